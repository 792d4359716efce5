"""One case per refusal of the pure rules: the call that makes it, on a small table.

Each function returns the :class:`~hubplugins.policy.decision.Decision` the
real rule answers, so the refusal catalogue (:mod:`hubplugins.policy.catalogue`)
quotes the code's own words and its tests compare its rule and status with
what the code returns. Cheap: no I/O, a table of a few keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from hubplugins.policy.decision import Decision, ServerUsage, Usage
from hubplugins.policy.model import Policy
from hubplugins.policy.rules.gpu_pool import GpuPool, not_synced
from hubplugins.policy.rules.gpu_queue import GpuLine
from hubplugins.policy.rules.identity import check_binding
from hubplugins.policy.rules.named_servers import check_new_named_server, check_rename
from hubplugins.policy.rules.oidc_claims import claim_missing, token_refused
from hubplugins.policy.rules.pod_resources import check_pod
from hubplugins.policy.rules.profiles import check_profile_slugs, choose_profile
from hubplugins.policy.rules.quota import quota_refusal
from hubplugins.policy.rules.resources import check_start
from hubplugins.policy.rules.resources_text import Request, read_request
from hubplugins.policy.rules.sign_in import (
    account_recheck_refused,
    account_revoked,
    github_membership,
    github_sign_in_again,
    name_not_owned,
    name_reused,
    no_sign_in_method,
)
from hubplugins.policy.table import PolicyTable

GPU = "nvidia.com/gpu"
MIG = "nvidia.com/mig-1g.10gb"
GB = 10**9


@cache
def _table() -> PolicyTable:
    return PolicyTable.from_dict(
        {
            "defaults": {
                "servers": {"max_named": 5, "max_running": 2, "name_max_length": 20},
                "resources": {
                    "cpu": {"guarantee": 0.5, "limit": 1, "max": 1},
                    "memory": {"guarantee": "1G", "limit": "2G", "max": "16G"},
                    "gpu": {"default": 0, "max": 0},
                },
                "quota": {"cpu": 2, "memory": "8G", "gpu": 0},
                "profiles": ["cpu"],
            },
            "groups": {
                "gpu": {
                    "resources": {"gpu": {"max": 2}, "gpu_kinds": {MIG: 2}},
                    "quota": {"gpu": 2, "gpu_kinds": {MIG: 2}},
                },
            },
        }
    )


def _policy(*groups: str) -> Policy:
    return _table().resolve(groups)


def _running(name: str, cpu: float = 1, memory: int = 2 * GB, **gpus: int) -> ServerUsage:
    return ServerUsage(name, True, cpu, memory, sum(gpus.values()), gpus)


def max_named() -> Decision:
    held = Usage.of(ServerUsage(f"nb{i}") for i in range(1, 6))
    return check_new_named_server(_policy(), held, "nb6")


def name_too_long() -> Decision:
    return check_new_named_server(_policy(), Usage(), "a" * 21)


def name_characters() -> Decision:
    return check_new_named_server(_policy(), Usage(), "My_Server")


def rename_missing() -> Decision:
    return check_rename(_policy(), Usage.of([ServerUsage("nb1")]), "nb9", "nb2")


def rename_taken() -> Decision:
    return check_rename(_policy(), Usage.of([ServerUsage("nb1"), ServerUsage("nb2")]), "nb1", "nb2")


def _start(request: Request, *groups: str, usage: Usage | None = None) -> Decision:
    return check_start(_policy(*groups), usage or Usage(), request, server_name="nb1")


def cpu_guarantee_above_limit() -> Decision:
    return _start(Request(cpu_guarantee=1, cpu_limit=0.5))


def memory_guarantee_above_limit() -> Decision:
    return _start(Request(memory_guarantee=2 * GB, memory_limit=GB))


def cpu_max() -> Decision:
    return _start(Request(cpu_limit=2))


def memory_max() -> Decision:
    return _start(Request(memory_limit=20 * GB))


def gpu_max() -> Decision:
    return _start(Request(gpu=1))


def gpu_kind_not_offered() -> Decision:
    return _start(Request(gpu=1, gpu_kind="amd.com/gpu"), "gpu")


def gpu_kind_max() -> Decision:
    return _start(Request(gpu=3, gpu_kind=MIG), "gpu")


def max_running() -> Decision:
    return _start(Request(), usage=Usage.of([_running("nb2"), _running("nb3")]))


def cpu_quota() -> Decision:
    return _start(Request(), usage=Usage.of([_running("nb2", cpu=1.5, memory=GB)]))


def memory_quota() -> Decision:
    return _start(Request(memory_limit=8 * GB), usage=Usage.of([_running("nb2", cpu=0.5)]))


def gpu_quota() -> Decision:
    return _start(Request(gpu=1), "gpu", usage=Usage.of([_running("nb2", **{GPU: 2})]))


def gpu_kind_quota() -> Decision:
    return _start(
        Request(gpu=1, gpu_kind=MIG), "gpu", usage=Usage.of([_running("nb2", **{MIG: 2})])
    )


def unreadable_cpu() -> Decision:
    return read_request({"cpu": "lots"})


def wrong_type() -> Decision:
    return read_request({"cpu": [2]})


def resources_line() -> Decision:
    return read_request({"resources": "meml=4G"})


def pool_exhausted() -> Decision:
    pool = GpuPool({GPU: 4})
    pool.reserve("bob/nb1", {GPU: 4})
    return pool.reserve("alice/nb1", {GPU: 1})


def pool_not_counted() -> Decision:
    return not_synced(GPU)


def _quota_message(why: str) -> str:
    return f'pods "jupyter-alice" is forbidden: {why}'


def _quota(why: str) -> Decision:
    decision = quota_refusal(_quota_message(why))
    assert decision is not None
    return decision


def namespace_gpus() -> Decision:
    return _quota(
        "exceeded quota: gpus, requested: requests.nvidia.com/gpu=1, "
        "used: requests.nvidia.com/gpu=4, limited: requests.nvidia.com/gpu=4"
    )


def namespace_quota() -> Decision:
    return _quota(
        "exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=7, "
        "limited: limits.cpu=8"
    )


def namespace_quota_unmet() -> Decision:
    return _quota("failed quota: compute: must specify limits.cpu for: notebook")


def queued() -> Decision:
    line = GpuLine()
    for n, user in enumerate(("bob", "alice")):
        line.join(f"{user}/nb1", {GPU: 1}, {}, now=float(n), max_wait=1800)
    return line.queued("alice/nb1", 4, 4)


_PROFILES: list[dict[str, Any]] = [
    {"slug": "cpu", "display_name": "CPU", "default": True},
    {"slug": "gpu", "display_name": "GPU"},
]


def profile_not_allowed() -> Decision:
    return choose_profile(_policy(), {"profile": "gpu"}, _PROFILES)


def no_profile_allowed() -> Decision:
    return choose_profile(_policy(), {}, [_PROFILES[1]])


def unknown_profile() -> Decision:
    return choose_profile(_policy(), {"profile": "big"}, _PROFILES)


def profile_slugs() -> Decision:
    return check_profile_slugs([{"display_name": "CPU"}, {"slug": "gpu"}, {"display_name": "Cpu"}])


_GRANT: Mapping[str, Any] = {
    "cpu_guarantee": 1,
    "cpu_limit": 1,
    "mem_guarantee": 2 * GB,
    "mem_limit": 2 * GB,
    "gpu": 0,
    "gpu_resource": GPU,
}


def _pod(limits: Mapping[str, Any]) -> Decision:
    container = {"name": "notebook", "resources": {"limits": {"cpu": 1, "memory": "2G", **limits}}}
    return check_pod(_policy(), _GRANT, {"spec": {"containers": [container]}})


def manifest_cpu() -> Decision:
    return _pod({"cpu": 8})


def manifest_memory() -> Decision:
    return _pod({"memory": "4G"})


def manifest_gpu() -> Decision:
    return _pod({GPU: 1})


def manifest_extended() -> Decision:
    return _pod({"hugepages-2Mi": "1Gi"})


def manifest_quantity() -> Decision:
    return _pod({GPU: "lots"})


def binding() -> Decision:
    return check_binding("alice", ("github", "1001"), ("github", "2002"))


def id_token() -> Decision:
    return token_refused("expired", 1700000000)


def id_token_claim() -> Decision:
    return claim_missing("preferred_username")


# -- sign-in


def account_recheck_disabled() -> Decision:
    return account_recheck_refused("alice", "disabled")


def account_recheck_unavailable() -> Decision:
    return account_recheck_refused("alice", "unavailable")


def account_disabled() -> Decision:
    return account_revoked("disabled")


def account_replaced() -> Decision:
    return name_reused()


def multi_name() -> Decision:
    return name_not_owned("gh-alice", "gh-")


def multi_owner() -> Decision:
    return no_sign_in_method("alice")


def github_token_missing() -> Decision:
    return github_sign_in_again(expired=False)


def github_token_expired() -> Decision:
    return github_sign_in_again(expired=True)


_GITHUB = "https://github.com"


def github_not_member() -> Decision:
    return github_membership("alice", ["lab"], ["other"], [], _GITHUB, "")


def github_hidden() -> Decision:
    return github_membership("alice", ["lab", "lab:gpu"], [], ["lab:gpu"], _GITHUB, "")


def github_not_allowed() -> Decision:
    return github_membership("alice", [], [], [], _GITHUB, "This hub is closed to new users.")
