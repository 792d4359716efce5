"""The API server's quota messages, as the refusals users see."""

from __future__ import annotations

import pytest

from hubplugins.policy.rules.quota import QUOTA_RULE, quota_refusal

PREFIX = 'pods "jupyter-alice" is forbidden: '

CASES = {
    "gpu": (
        "exceeded quota: gpus, requested: requests.nvidia.com/gpu=1, "
        "used: requests.nvidia.com/gpu=4, limited: requests.nvidia.com/gpu=4",
        ("cluster.gpu_pool", 409, "4", "4"),
        "GPU pool exhausted: 4 of the 4 nvidia.com/gpu GPUs shared in this namespace (quota "
        '"gpus") are in use and this server asks for 1. Try again when another server stops, or '
        "ask for fewer GPUs.",
    ),
    "mig-slice": (
        "exceeded quota: slices, requested: requests.nvidia.com/mig-1g.10gb=2, "
        "used: requests.nvidia.com/mig-1g.10gb=6, limited: requests.nvidia.com/mig-1g.10gb=7",
        ("cluster.gpu_pool", 409, "7", "6"),
        "GPU pool exhausted: 6 of the 7 nvidia.com/mig-1g.10gb GPUs shared in this namespace "
        '(quota "slices") are in use and this server asks for 2. Try again when another server '
        "stops, or ask for fewer GPUs.",
    ),
    "gpu-named-before-cpu": (
        "exceeded quota: all, requested: requests.cpu=1,requests.nvidia.com/gpu=1, "
        "used: requests.cpu=8,requests.nvidia.com/gpu=2, limited: requests.cpu=8,"
        "requests.nvidia.com/gpu=2",
        ("cluster.gpu_pool", 409, "2", "2"),
        "GPU pool exhausted: 2 of the 2 nvidia.com/gpu GPUs shared in this namespace (quota "
        '"all") are in use and this server asks for 1. Try again when another server stops, or '
        "ask for fewer GPUs.",
    ),
    "cpu": (
        "exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=7, "
        "limited: limits.cpu=8",
        (QUOTA_RULE, 409, "8", "7"),
        'Namespace quota "compute" reached: 7 of 8 limits.cpu in use and this server asks for 2. '
        "Try again when another server stops, or ask for less.",
    ),
    "pod-count": (
        "exceeded quota: count, requested: pods=1, used: pods=10, limited: pods=10",
        (QUOTA_RULE, 409, "10", "10"),
        'Namespace quota "count" reached: 10 of 10 pods in use and this server asks for 1. Try '
        "again when another server stops, or ask for less.",
    ),
    "must-specify": (
        "failed quota: compute: must specify limits.cpu for: notebook",
        (QUOTA_RULE, 403, None, None),
        'The namespace\'s quota "compute" refuses this server\'s pod ("must specify limits.cpu '
        "for: notebook\"). Ask the hub's admins to set these resources for every server.",
    ),
}


@pytest.mark.parametrize(("message", "expected", "text"), list(CASES.values()), ids=list(CASES))
def test_quota_messages_become_refusals(message, expected, text):
    decision = quota_refusal(PREFIX + message)
    assert decision is not None and not decision.allowed
    assert (decision.rule, decision.status, decision.limit, decision.usage) == expected
    assert decision.message == text


@pytest.mark.parametrize(
    "message",
    ['pods "x" is forbidden: User "hub" cannot create resource "pods"', "", "exceeded quota"],
    ids=["rbac", "empty", "truncated"],
)
def test_other_messages_are_not_quotas(message):
    assert quota_refusal(message) is None
