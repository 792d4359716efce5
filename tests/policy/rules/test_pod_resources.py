"""A pod's effective resources, counted as Kubernetes counts them, against the grant."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from kubernetes_asyncio.client import (
    V1Container,
    V1ObjectMeta,
    V1Pod,
    V1PodSpec,
    V1ResourceRequirements,
)

from hubplugins.policy import PolicyTable
from hubplugins.policy.errors import QuantityError
from hubplugins.policy.rules.pod_resources import check_pod, effective_resources, parse_quantity

GB = 10**9
POLICY = PolicyTable.from_dict(
    {
        "defaults": {
            "resources": {
                "cpu": {"guarantee": 0.5, "limit": 1, "max": 1},
                "memory": {"guarantee": "1G", "limit": "2G", "max": "2G"},
            }
        }
    }
).resolve([])
GRANT = {
    "cpu_guarantee": 0.5,
    "cpu_limit": 1.0,
    "mem_guarantee": GB,
    "mem_limit": 2 * GB,
    "gpu": 0,
    "gpu_resource": "nvidia.com/gpu",
}
GPU_GRANT = {**GRANT, "gpu": 1}
ZERO_GUARANTEE = {**GRANT, "cpu_guarantee": 0.0, "mem_guarantee": 0}


def ctr(
    name: str,
    limits: dict[str, Any] | None = None,
    requests: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if limits is not None:
        resources["limits"] = limits
    if requests is not None:
        resources["requests"] = requests
    return {"name": name, "image": "x", "resources": resources, **extra}


# what KubeSpawner builds from GRANT: floats and ints, as make_pod sets them
NOTEBOOK = ctr("notebook", {"cpu": 1.0, "memory": 2 * GB}, {"cpu": 0.5, "memory": GB})
SMALL = {"cpu": "100m", "memory": "100M"}
REQUESTS = {"cpu": "500m", "memory": "1G"}


def pod(*containers: dict[str, Any], init: tuple[dict[str, Any], ...] = (), **spec: Any) -> dict:
    body: dict[str, Any] = {"containers": list(containers), **spec}
    if init:
        body["initContainers"] = list(init)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": body}


def sidecar(name: str, limits: dict[str, Any] | None = None) -> dict[str, Any]:
    return ctr(name, limits, restartPolicy="Always")


# -- quantities ------------------------------------------------------------------------

QUANTITIES = {
    "integer": ("2", Decimal(2)),
    "decimal": ("0.5", Decimal("0.5")),
    "leading-dot": (".5", Decimal("0.5")),
    "trailing-dot": ("1.", Decimal(1)),
    "plus-sign": ("+1", Decimal(1)),
    "milli": ("500m", Decimal("0.5")),
    "micro": ("250000u", Decimal("0.25")),
    "nano": ("1000000000n", Decimal(1)),
    "kilo": ("1k", Decimal(1000)),
    "mega": ("2M", Decimal(2 * 10**6)),
    "giga": ("2G", Decimal(2 * GB)),
    "tera-peta-exa": ("1E", Decimal(10**18)),
    "kibi": ("1.5Ki", Decimal(1536)),
    "gibi": ("2Gi", Decimal(2 * 2**30)),
    "exponent": ("2e9", Decimal(2 * GB)),
    "exponent-capital": ("2E9", Decimal(2 * GB)),
    "negative-exponent": ("1e-3", Decimal("0.001")),
    "int": (3, Decimal(3)),
    "float": (0.25, Decimal("0.25")),
    "many-digits": (
        "2000000000.000000000000000000000000001",
        Decimal("2000000000.000000000000000000000000001"),
    ),
}


@pytest.mark.parametrize(("text", "value"), QUANTITIES.values(), ids=QUANTITIES.keys())
def test_quantities_in_every_notation(text: Any, value: Decimal) -> None:
    assert parse_quantity(text) == value


BAD_QUANTITIES = {
    "word": "lots",
    "capital-k": "1K",
    "lowercase-gi": "2gi",
    "negative": "-1",
    "unit-and-exponent": "1Gie3",
    "space": "1 Gi",
    "empty": "",
    "bool": True,
    "nan": float("nan"),
    "inf": float("inf"),
    "negative-float": -0.5,
    "list": [1],
    "huge-text": "9" * 100,
    "huge-exponent": "1e999",
}


@pytest.mark.parametrize("text", BAD_QUANTITIES.values(), ids=BAD_QUANTITIES.keys())
def test_what_is_not_a_quantity(text: Any) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


# -- effective resources ---------------------------------------------------------------

# (pod, resource, effective limit, effective request)
EFFECTIVE = {
    "one-container": (pod(NOTEBOOK), "cpu", "1", "0.5"),
    "extra-container-adds": (pod(NOTEBOOK, ctr("log", SMALL)), "cpu", "1.1", "0.6"),
    "init-bigger-than-app": (pod(NOTEBOOK, init=(ctr("setup", {"cpu": "4"}),)), "cpu", "4", "4"),
    "init-smaller-than-app": (pod(NOTEBOOK, init=(ctr("setup", SMALL),)), "memory", "2e9", "1e9"),
    "sidecar-adds": (pod(NOTEBOOK, init=(sidecar("proxy", {"cpu": "1"}),)), "cpu", "2", "1.5"),
    # the init container after a sidecar runs beside it: 1 + 3 = 4 > 1 + 1
    "init-after-sidecar": (
        pod(NOTEBOOK, init=(sidecar("proxy", {"cpu": "1"}), ctr("setup", {"cpu": "3"}))),
        "cpu",
        "4",
        "4",
    ),
    # ... and before it, alone: 3 > 1 + 1
    "init-before-sidecar": (
        pod(NOTEBOOK, init=(ctr("setup", {"cpu": "3"}), sidecar("proxy", {"cpu": "1"}))),
        "cpu",
        "3",
        "3",
    ),
    "request-defaults-to-limit": (pod(ctr("a", {"cpu": "750m"})), "cpu", "0.75", "0.75"),
    "pod-level-limit-bounds-the-pod": (
        pod(ctr("a"), ctr("b"), resources={"limits": {"cpu": "2"}}),
        "cpu",
        "2",
        "2",
    ),
    "pod-level-request": (
        pod(ctr("a"), resources={"limits": {"cpu": "2"}, "requests": {"cpu": "1"}}),
        "cpu",
        "2",
        "1",
    ),
    "extended-in-extra-container": (
        pod(NOTEBOOK, ctr("gpu", {"amd.com/gpu": "1"})),
        "amd.com/gpu",
        "1",
        "1",
    ),
}


@pytest.mark.parametrize(
    ("body", "name", "limit", "requested"), EFFECTIVE.values(), ids=EFFECTIVE.keys()
)
def test_effective_resources(body: dict, name: str, limit: str, requested: str) -> None:
    res = effective_resources(body)
    assert res.limit(name) == Decimal(limit)
    assert res.request(name) == Decimal(requested)


# -- the check -------------------------------------------------------------------------

OBJECT_POD = V1Pod(
    metadata=V1ObjectMeta(name="p"),
    spec=V1PodSpec(
        containers=[
            V1Container(
                name="notebook",
                image="x",
                resources=V1ResourceRequirements(limits={"cpu": "8", "memory": "2G"}),
            ),
            # a hook may append a plain dict: the client sends it as it is
            ctr("log", {"cpu": "1", "memory": "1G"}),
        ]
    ),
)


# A refusal of check_pod: the pod's problems between the policy's groups and the advice.
def pod_refusal(problems: str, groups: str = "defaults") -> str:
    return (
        f"This server's pod holds more than the policy granted for your groups ({groups}): "
        f"{problems}. This comes from the hub's configuration (a profile, a hook or an extra "
        "container), not from your request: ask your hub admin to fix it."
    )


# (grant, pod, rule or None, the problems the refusal names)
CHECKS: dict[str, tuple[dict, Any, str | None, str]] = {
    "kubespawner-pod": (GRANT, pod(NOTEBOOK), None, ""),
    "hook-lifts-cpu": (
        GRANT,
        pod(ctr("notebook", {"cpu": "8", "memory": "2G"}, {"cpu": "500m", "memory": "1G"})),
        "manifest.cpu",
        'cpu limit: container "notebook" has 8 cores, above the granted limit of 1 core',
    ),
    "objects": (
        GRANT,
        OBJECT_POD,
        "manifest.cpu",
        'cpu limit: container "notebook" 8 cores, container "log" 1 core add up to 9 cores, '
        'above the granted limit of 1 core; memory limit: container "notebook" 2G, container '
        '"log" 1G add up to 3G, above the granted limit of 2G',
    ),
    "sidecar-large-limit": (
        GRANT,
        pod(NOTEBOOK, ctr("log", {"cpu": "4", "memory": "64M"})),
        "manifest.cpu",
        'cpu limit: container "notebook" 1 core, container "log" 4 cores add up to 5 cores, '
        'above the granted limit of 1 core; memory limit: container "notebook" 2G, container '
        '"log" 64M add up to 2064M, above the granted limit of 2G',
    ),
    "restartable-sidecar": (
        GRANT,
        pod(NOTEBOOK, init=(sidecar("proxy", SMALL),)),
        "manifest.cpu",
        'cpu limit: container "notebook" 1 core, sidecar "proxy" 100m add up to 1.1 cores, above '
        'the granted limit of 1 core; memory limit: container "notebook" 2G, sidecar "proxy" '
        "100M add up to 2.1G, above the granted limit of 2G",
    ),
    "init-bigger-than-grant": (
        GRANT,
        pod(NOTEBOOK, init=(ctr("setup", {"cpu": "4", "memory": "1G"}),)),
        "manifest.cpu",
        'cpu limit: init container "setup" has 4 cores, above the granted limit of 1 core',
    ),
    "init-within-grant": (
        GRANT,
        pod(NOTEBOOK, init=(ctr("setup", {"cpu": "1", "memory": "2G"}, SMALL),)),
        None,
        "",
    ),
    # a limit alone is the request too: above the guarantee
    "init-limit-without-request": (
        GRANT,
        pod(NOTEBOOK, init=(ctr("setup", {"cpu": "1"}),)),
        "manifest.cpu",
        'cpu request: init container "setup" has 1 core, above the granted guarantee of 500m',
    ),
    # the chart's block-cloud-metadata container sets no resources
    "init-without-limits": (GRANT, pod(NOTEBOOK, init=(ctr("block-cloud-metadata"),)), None, ""),
    "pod-level-above": (
        GRANT,
        pod(ctr("notebook"), resources={"limits": {"cpu": "4", "memory": "2G"}}),
        "manifest.cpu",
        "cpu limit: the pod-level limit has 4 cores, above the granted limit of 1 core; memory "
        "request: the pod-level limit has 2G, above the granted guarantee of 1G",
    ),
    "pod-level-within": (
        GRANT,
        pod(
            ctr("notebook"),
            ctr("log"),
            resources={"limits": {"cpu": "1", "memory": "2G"}, "requests": SMALL},
        ),
        None,
        "",
    ),
    "missing-limit": (
        GRANT,
        pod(ctr("notebook", {"memory": "2G"})),
        "manifest.cpu",
        'container "notebook" has no cpu limit; memory request: container "notebook" has 2G, '
        "above the granted guarantee of 1G",
    ),
    "sidecar-missing-limit": (
        GRANT,
        pod(NOTEBOOK, init=(sidecar("proxy"),)),
        "manifest.cpu",
        'sidecar "proxy" has no cpu limit; sidecar "proxy" has no memory limit',
    ),
    "unknown-extended": (
        GRANT,
        pod(ctr("notebook", {"cpu": 1, "memory": "2G", "amd.com/gpu": "1"})),
        "manifest.extended",
        'container "notebook" has 1 of "amd.com/gpu", which was not granted; cpu request: '
        'container "notebook" has 1 core, above the granted guarantee of 500m; memory request: '
        'container "notebook" has 2G, above the granted guarantee of 1G',
    ),
    "granted-gpu": (
        GPU_GRANT,
        pod(ctr("notebook", {"cpu": 1, "memory": "2G", "nvidia.com/gpu": "1"}, REQUESTS)),
        None,
        "",
    ),
    "more-gpus-than-granted": (
        GPU_GRANT,
        pod(
            ctr("notebook", {"cpu": 1, "memory": "2G", "nvidia.com/gpu": "1"}, REQUESTS),
            ctr("burn", {"cpu": 0, "memory": 0, "nvidia.com/gpu": "1"}),
        ),
        "manifest.gpu",
        'nvidia.com/gpu limit: container "notebook" 1, container "burn" 1 add up to 2, above the '
        "granted limit of 1",
    ),
    "ungranted-gpu-of-the-tier": (
        GRANT,
        pod(ctr("notebook", {"cpu": 1, "memory": "2G", "nvidia.com/gpu": "1"})),
        "manifest.gpu",
        'nvidia.com/gpu limit: container "notebook" has 1, above the granted limit of 0; cpu '
        'request: container "notebook" has 1 core, above the granted guarantee of 500m; memory '
        'request: container "notebook" has 2G, above the granted guarantee of 1G',
    ),
    "zero-extended-is-fine": (
        GRANT,
        pod(ctr("notebook", {"cpu": 1, "memory": "2G", "amd.com/gpu": "0"}, REQUESTS)),
        None,
        "",
    ),
    "hugepages": (
        GRANT,
        pod(ctr("notebook", {"cpu": 1, "memory": "2G", "hugepages-2Mi": "1Gi"})),
        "manifest.extended",
        'container "notebook" has 1073741824 of "hugepages-2Mi", which was not granted; cpu '
        'request: container "notebook" has 1 core, above the granted guarantee of 500m; memory '
        'request: container "notebook" has 2G, above the granted guarantee of 1G',
    ),
    "ephemeral-storage-not-counted": (
        GRANT,
        pod(ctr("notebook", {"cpu": 1, "memory": "2G", "ephemeral-storage": "100Gi"}, REQUESTS)),
        None,
        "",
    ),
    "request-above-guarantee": (
        GRANT,
        pod(ctr("notebook", {"cpu": "1", "memory": "2G"}, {"cpu": "1", "memory": "1G"})),
        "manifest.cpu",
        'cpu request: container "notebook" has 1 core, above the granted guarantee of 500m',
    ),
    # KubeSpawner sets no request for a 0 guarantee: Kubernetes makes it the limit
    "zero-guarantee": (
        ZERO_GUARANTEE,
        pod(ctr("notebook", {"cpu": 1.0, "memory": 2 * GB})),
        None,
        "",
    ),
    "one-milli-too-much": (
        GRANT,
        pod(ctr("notebook", {"cpu": "1001m", "memory": "2G"}, {"cpu": "0"})),
        "manifest.cpu",
        'cpu limit: container "notebook" has 1.001 cores, above the granted limit of 1 core; '
        'memory request: container "notebook" has 2G, above the granted guarantee of 1G',
    ),
    "nanocores-exactly": (
        GRANT,
        pod(ctr("notebook", {"cpu": "1000000000n", "memory": "2e9"}, {"cpu": "500m", "memory": 0})),
        None,
        "",
    ),
    "memory-in-gi-exactly-2g": (
        GRANT,
        pod(ctr("notebook", {"cpu": "1", "memory": "1.86264514923095703125Gi"}, REQUESTS)),
        None,
        "",
    ),
    "one-byte-too-much": (
        GRANT,
        pod(ctr("notebook", {"cpu": "1", "memory": "2000000001"}, {"cpu": "0"})),
        "manifest.memory",
        'memory limit: container "notebook" has 2000000001, above the granted limit of 2G',
    ),
    "junk-quantity": (
        GRANT,
        pod(ctr("notebook", {"cpu": "lots", "memory": "2G"})),
        "manifest.quantity",
        'container "notebook": "cpu" limit "lots" is not a quantity; container "notebook" has no '
        'cpu limit; memory request: container "notebook" has 2G, above the granted guarantee of '
        "1G",
    ),
    "no-spec": (GRANT, {"metadata": {}}, "manifest.quantity", "the pod has no spec"),
    # a hook that forgot to return the pod
    "no-pod": (GRANT, None, "manifest.quantity", "the pod has no spec"),
    "resources-not-a-mapping": (
        GRANT,
        pod(ctr("notebook", ["8"])),  # type: ignore[arg-type]
        "manifest.quantity",
        'container "notebook": limits "[\'8\']" are not a mapping; container "notebook" has '
        'no cpu limit; container "notebook" has no memory limit',
    ),
}


@pytest.mark.parametrize(("grant", "body", "rule", "problems"), CHECKS.values(), ids=CHECKS.keys())
def test_check_pod(grant: dict, body: Any, rule: str | None, problems: str) -> None:
    decision = check_pod(POLICY, grant, body)
    if rule is None:
        assert decision.allowed, decision.message
        return
    assert not decision.allowed
    assert decision.status == 403
    assert decision.rule == rule, decision.message
    assert decision.message == pod_refusal(problems)
    assert len(decision.message) < 600


def test_message_is_bounded_with_many_problems() -> None:
    many = pod(*(ctr(f"c{i}", {f"example.com/r{i}": "1"}) for i in range(40)))
    decision = check_pod(POLICY, GRANT, many)
    assert not decision.allowed
    assert (decision.rule, decision.status) == ("manifest.cpu", 403)
    assert len(decision.message) < 600
    assert decision.message == pod_refusal(
        'container "c0" has no cpu limit; container "c1" has no cpu limit; '
        'container "c2" has no cpu limit; 117 more'
    )
    assert len(decision.details["problems"]) > 40
