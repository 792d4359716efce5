"""Every GPU kind its own caps and quota: whole GPUs, MIG slices, time-sliced GPUs."""

from __future__ import annotations

from typing import Any

import pytest

from hubplugins.cli import explain_text
from hubplugins.policy.decision import ServerUsage, Usage
from hubplugins.policy.errors import PolicyConfigError, PolicyRefusal
from hubplugins.policy.rules.gpu_pool import GpuPool
from hubplugins.policy.rules.pod_resources import check_pod
from hubplugins.policy.rules.resources import check_start
from hubplugins.policy.rules.resources_text import Request, read_request
from hubplugins.policy.table import PolicyTable
from hubplugins.spawner.form import render_resource_fields, resource_options_from_form


def requested(options: Any, **kwargs: Any) -> Request:
    """The Request ``options`` ask for; raises the refusal as the spawner's enforce does."""
    return read_request(options, **kwargs).enforce().details["request"]


GPU = "nvidia.com/gpu"
MIG = "nvidia.com/mig-1g.10gb"
SHARED = "nvidia.com/gpu.shared"

TABLE = {
    "defaults": {"resources": {"gpu": {"max": 0}}, "quota": {"gpu": 0}},
    "groups": {
        "slices": {
            "resources": {"gpu": {"max": 1}, "gpu_kinds": {MIG: 2, SHARED: 1}},
            "quota": {"gpu": 1, "gpu_kinds": {MIG: 3}},
        },
        "more-slices": {"resources": {"gpu_kinds": {MIG: 4}}, "quota": {"gpu_kinds": {MIG: None}}},
    },
    "cluster": {"gpu_pool": {GPU: 4, MIG: 7, SHARED: 8}},
}


def running(**gpus: int) -> ServerUsage:
    kinds = {{"gpu": GPU, "mig": MIG, "shared": SHARED}[k]: n for k, n in gpus.items()}
    return ServerUsage("other", running=True, gpu=sum(kinds.values()), gpus=kinds)


# (case, groups, user_options, the user's other running server, rule refused or (kind, count))
CASES: list[tuple[str, list[str], dict[str, Any], ServerUsage | None, Any]] = [
    ("whole-by-default", ["slices"], {"gpu": 1}, None, (GPU, 1)),
    ("slices", ["slices"], {"gpu": 2, "gpu_kind": MIG}, None, (MIG, 2)),
    ("a-kind-alone-is-one", ["slices"], {"gpu_kind": MIG}, None, (MIG, 1)),
    ("slice-cap", ["slices"], {"gpu": 3, "gpu_kind": MIG}, None, f"resources.gpu_kinds.{MIG}"),
    (
        "slice-quota",
        ["slices"],
        {"gpu": 2, "gpu_kind": MIG},
        running(mig=2),
        f"quota.gpu_kinds.{MIG}",
    ),
    ("slices-leave-whole-quota", ["slices"], {"gpu": 1}, running(mig=2), (GPU, 1)),
    ("whole-leaves-slice-quota", ["slices"], {"gpu_kind": MIG}, running(gpu=1), (MIG, 1)),
    ("whole-quota", ["slices"], {"gpu": 1}, running(gpu=1), "quota.gpu"),
    (
        "kind-without-quota-is-0",
        ["slices"],
        {"gpu_kind": SHARED},
        None,
        f"quota.gpu_kinds.{SHARED}",
    ),
    ("kind-not-offered", ["slices"], {"gpu_kind": "amd.com/gpu"}, None, "resources.gpu_kinds"),
    ("defaults-offer-no-kinds", [], {"gpu_kind": MIG}, None, "resources.gpu_kinds"),
    (
        "generous-group-wins",
        ["slices", "more-slices"],
        {"gpu": 4, "gpu_kind": MIG},
        running(mig=3),
        (MIG, 4),
    ),
]


@pytest.mark.parametrize(
    ("groups", "options", "other", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_gpu_kinds(groups, options, other, expected) -> None:
    policy = PolicyTable.from_dict(TABLE).resolve(groups)
    usage = Usage.of([other] if other else [])
    decision = check_start(policy, usage, requested(options), server_name="nb")
    if isinstance(expected, str):
        assert not decision.allowed and decision.rule == expected, decision
        assert 400 <= decision.status < 500
    else:
        assert decision.allowed, decision.message
        grant = decision.details["grant"]
        assert (grant.gpu_resource, grant.gpu) == expected


@pytest.mark.parametrize(
    ("kind", "shown"),
    [(7, "7"), ("nvidia", "nvidia"), ("a/b/c", "a/b/c"), ("x" * 300, "x" * 40 + "...")],
    ids=["number", "no-domain", "two-slashes", "long"],
)
def test_a_bad_kind_is_400(kind, shown) -> None:
    with pytest.raises(PolicyRefusal) as info:
        requested({"gpu_kind": kind})
    assert (info.value.decision.rule, info.value.status) == ("request", 400)
    assert info.value.message == (
        f'Invalid gpu_kind: "{shown}" is not an extended resource name '
        "(e.g. nvidia.com/mig-1g.10gb)."
    )


def pod(**held: str) -> dict[str, Any]:
    resources = {
        "requests": {"cpu": "500m", "memory": "1G", **held},
        "limits": {"cpu": "1", "memory": "2G", **held},
    }
    return {"spec": {"containers": [{"name": "notebook", "resources": resources}]}}


@pytest.mark.parametrize(
    ("held", "allowed"),
    [({MIG: "2"}, True), ({MIG: "3"}, False), ({MIG: "2", GPU: "1"}, False)],
    ids=["granted-slices", "more-slices", "slices-and-a-whole-gpu"],
)
def test_the_pod_holds_only_the_granted_kind(held, allowed) -> None:
    policy = PolicyTable.from_dict(TABLE).resolve(["slices"])
    grant = check_start(policy, Usage(), requested({"gpu": 2, "gpu_kind": MIG})).details["grant"]
    assert check_pod(policy, grant, pod(**held)).allowed is allowed


def test_each_kind_is_a_pool_of_its_own() -> None:
    pool = GpuPool({GPU: 1, MIG: 2})
    assert pool.reserve("a/", {GPU: 1}).allowed
    assert not pool.reserve("b/", {GPU: 1}).allowed
    assert pool.reserve("b/", {MIG: 2}).allowed
    refused = pool.reserve("c/", {MIG: 1})
    assert not refused.allowed
    assert (refused.rule, refused.status) == ("cluster.gpu_pool", 409)
    assert refused.message == (
        f"GPU pool exhausted: 2 of the 2 {MIG} GPUs of this hub are in use and this server "
        "asks for 1. Try again when another server stops, or ask for fewer GPUs."
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"resources": {"gpu_kinds": {GPU: 1}}}, "is the tier's resources.gpu.resource"),
        ({"resources": {"gpu_kinds": {MIG: 8}}}, f"8 is above cluster.gpu_pool {MIG}: 7"),
        ({"resources": {"gpu_kinds": {"mig": 1}}}, "not an extended resource name"),
        ({"quota": {"gpu_kinds": {MIG: -1}}}, "must be at least 0"),
    ],
    ids=["main-kind-listed", "above-pool", "bad-name", "negative-quota"],
)
def test_kind_config_errors(section, message) -> None:
    table = {**TABLE, "groups": {"bad": section}}
    with pytest.raises(PolicyConfigError) as info:
        PolicyTable.from_dict(table)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("groups", "shown"), [(["slices"], True), ([], False)], ids=["kinds-offered", "no-kinds"]
)
def test_the_form_offers_the_kinds(groups, shown) -> None:
    html = render_resource_fields(PolicyTable.from_dict(TABLE).resolve(groups))
    assert ('name="gpu_kind"' in html) is shown
    if shown:
        assert f'<option value="{MIG}">{MIG} (up to 2)</option>' in html
        assert resource_options_from_form({"gpu_kind": [MIG], "gpu": ["2"]}) == {
            "gpu": "2",
            "gpu_kind": MIG,
        }


def test_explain_shows_the_kinds() -> None:
    out = explain_text(PolicyTable.from_dict(TABLE), ["slices", "more-slices"]).splitlines()
    kinds = [line for line in out if line.strip().startswith("gpu_kinds:")]
    assert len(kinds) == 2, out
    assert kinds[0].split("#")[0].strip() == f"gpu_kinds: {{{MIG}: 4, {SHARED}: 1}}"
    assert kinds[1].split("#")[0].strip() == f"gpu_kinds: {{{MIG}: null}}"
    plain = explain_text(PolicyTable.from_dict({}), []).splitlines()
    assert not any("gpu_kinds" in line for line in plain)
