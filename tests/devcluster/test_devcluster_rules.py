"""Pure rules of the devcluster: quantities, selectors, names, resource fit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hubplugins_dev.devcluster.podstatus import insufficient, pod_requests, unschedulable_message
from hubplugins_dev.devcluster.quantity import parse_quantity
from hubplugins_dev.devcluster.selectors import field_matcher, label_matcher
from hubplugins_dev.devcluster.validation import name_errors


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        ("500m", Decimal("0.5")),
        ("1.5", Decimal("1.5")),
        ("2Gi", Decimal(2 * 2**30)),
        ("1G", Decimal(10**9)),
        ("10Mi", Decimal(10 * 2**20)),
        ("1e3", Decimal(1000)),
        ("100k", Decimal(100000)),
        (4, Decimal(4)),
    ],
    ids=["int", "milli", "decimal", "gibi", "giga", "mebi", "exponent", "kilo", "number"],
)
def test_quantity(text: object, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["", "abc", "1Gb", "1.2.3", "Gi", "1 Gi", "--1"], ids=lambda t: t or "empty"
)
def test_bad_quantity(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


LABELS = {"metadata": {"labels": {"app": "jh", "tier": "gpu"}}}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=jh", True),
        ("app==jh", True),
        ("app=other", False),
        ("app!=other", True),
        ("app!=jh", False),
        ("tier in (gpu,cpu)", True),
        ("tier in (cpu)", False),
        ("tier notin (cpu)", True),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app=jh,tier in (gpu, cpu),!missing", True),
        ("app=jh,tier=cpu", False),
    ],
    ids=lambda v: str(v),
)
def test_label_selector(selector: str, matches: bool) -> None:
    assert label_matcher(selector)(LABELS) is matches


OBJ = {
    "metadata": {"name": "p1", "namespace": "ns"},
    "involvedObject": {"kind": "Pod"},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("metadata.name=p1", True),
        ("metadata.name==p2", False),
        ("metadata.namespace!=ns", False),
        ("involvedObject.kind=Pod", True),
        ("status.phase=Running,metadata.name=p1", True),
        ("status.phase=Pending", False),
        ("spec.nodeName=", True),
    ],
    ids=lambda v: str(v),
)
def test_field_selector(selector: str, matches: bool) -> None:
    assert field_matcher(selector)(OBJ) is matches


@pytest.mark.parametrize(
    ("resource", "name", "ok"),
    [
        ("pods", "jupyter-alice", True),
        ("pods", "a.b-c", True),
        ("pods", "Jupyter-Alice", False),
        ("pods", "-leading", False),
        ("pods", "trailing-", False),
        ("pods", "under_score", False),
        ("pods", "a" * 253, True),
        ("pods", "a" * 254, False),
        ("persistentvolumeclaims", "claim-alice", True),
        ("secrets", "s.with.dots", True),
        ("namespaces", "user-alice", True),
        ("namespaces", "with.dot", False),
        ("namespaces", "a" * 64, False),
        ("services", "svc-1", True),
        ("services", "1svc", False),
        ("configmaps", "cm", True),
    ],
    ids=lambda v: str(v)[:20],
)
def test_names(resource: str, name: str, ok: bool) -> None:
    assert (name_errors(resource, name) == []) is ok


def _pod(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict:
    resources = {"requests": requests or {}, "limits": limits or {}}
    return {"spec": {"containers": [{"name": "c", "resources": resources}]}}


CAPACITY = {
    "cpu": Decimal(8),
    "memory": Decimal(32 * 2**30),
    "nvidia.com/gpu": Decimal(4),
    "pods": Decimal(3),
}


@pytest.mark.parametrize(
    ("pod", "allocated", "running", "reasons"),
    [
        (_pod({"cpu": "1"}), {}, 0, []),
        (
            _pod(limits={"nvidia.com/gpu": "1"}),
            {"nvidia.com/gpu": Decimal(4)},
            1,
            ["Insufficient nvidia.com/gpu"],
        ),
        (_pod({"cpu": "1"}, {"nvidia.com/gpu": "2"}), {"nvidia.com/gpu": Decimal(2)}, 1, []),
        (_pod({"cpu": "9"}), {}, 0, ["Insufficient cpu"]),
        (_pod({"memory": "1Gi"}), {}, 3, ["Too many pods"]),
        (_pod({"cpu": "8", "memory": "33Gi"}), {}, 0, ["Insufficient memory"]),
    ],
    ids=["fits", "gpu-full", "gpu-limit-fits", "cpu", "pod-count", "memory"],
)
def test_fit(pod: dict, allocated: dict, running: int, reasons: list[str]) -> None:
    assert insufficient(CAPACITY, allocated, pod_requests(pod), running) == reasons


def test_unschedulable_message() -> None:
    assert (
        unschedulable_message(["Insufficient nvidia.com/gpu"])
        == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    )
