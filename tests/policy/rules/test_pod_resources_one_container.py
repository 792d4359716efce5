"""check_pod on one container: the cases of the former manifest check."""

from __future__ import annotations

import pytest
from harness.rule_tables import POLICY

from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.rules.pod_resources import check_pod

# -- manifest ---------------------------------------------------------------------------

GB = 10**9
GRANT = {"cpu_limit": 1.0, "mem_limit": 2 * GB, "gpu": 0, "gpu_resource": "nvidia.com/gpu"}
# (limits, requests, None or (rule, the problems the refusal names))
MANIFEST: dict[str, tuple[dict[str, str], dict[str, str], tuple[str, str] | None]] = {
    "matching": ({"cpu": "1", "memory": "2G"}, {"cpu": "500m", "memory": "1G"}, None),
    "cpu-lifted": (
        {"cpu": "2", "memory": "2G"},
        {},
        (
            "manifest.cpu",
            'cpu limit: container "notebook" has 2 cores, above the granted limit of 1 core',
        ),
    ),
    "memory-Gi": (
        {"cpu": "1", "memory": "2Gi"},
        {},
        (
            "manifest.memory",
            'memory limit: container "notebook" has 2Gi, above the granted limit of 2G',
        ),
    ),
    "no-limit": (
        {"memory": "2G"},
        {},
        (
            "manifest.cpu",
            'container "notebook" has no cpu limit',
        ),
    ),
    "gpu-sneaked-in": (
        {"cpu": "1", "memory": "2G", "nvidia.com/gpu": "1"},
        {},
        (
            "manifest.gpu",
            'nvidia.com/gpu limit: container "notebook" has 1, above the granted limit of 0',
        ),
    ),
    "junk": (
        {"cpu": "lots", "memory": "2G"},
        {},
        (
            "manifest.quantity",
            'container "notebook": "cpu" limit "lots" is not a quantity; container "notebook" '
            "has no cpu limit",
        ),
    ),
}


@pytest.mark.parametrize(("limits", "requests", "problem"), MANIFEST.values(), ids=MANIFEST.keys())
def test_check_pod_of_one_container(
    limits: dict[str, str], requests: dict[str, str], problem: tuple[str, str] | None
) -> None:
    container = {"name": "notebook", "resources": {"limits": limits, "requests": requests}}
    decision = check_pod(POLICY, GRANT, {"spec": {"containers": [container]}})
    if problem is None:
        assert decision.allowed
        return
    with pytest.raises(PolicyRefusal) as info:
        decision.enforce()
    rule, problems = problem
    assert (info.value.decision.rule, info.value.status) == (rule, 403)
    assert info.value.message == (
        "This server's pod holds more than the policy granted for your groups (authenticated): "
        f"{problems}. This comes from the hub's configuration (a profile, a hook or an extra "
        "container), not from your request: ask your hub admin to fix it."
    )
