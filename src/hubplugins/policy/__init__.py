"""The pure policy core, in one import.

Everything here is plain Python: no JupyterHub, tornado, Kubernetes or LDAP
imports, no I/O beyond reading a policy file on request, and no clock (idle
times are passed in)::

    from hubplugins.policy import PolicyTable, Usage, ServerUsage, read_request, check_start

    table = PolicyTable.from_yaml(text)
    policy = table.resolve(["gpu-beta"])
    request = read_request(opts).enforce().details["request"]
    decision = check_start(policy, usage, request, server_name="nb1").enforce()
    decision.details["grant"].mem_limit  # bytes
"""

from __future__ import annotations

from hubplugins.policy.decision import Decision, ServerUsage, Usage
from hubplugins.policy.errors import ConfigIssue, PolicyConfigError, PolicyRefusal, QuantityError
from hubplugins.policy.grant import Grant
from hubplugins.policy.model import (
    DEFAULT_GPU_RESOURCE,
    ClusterPolicy,
    CpuSpec,
    GpuSpec,
    IdlePolicy,
    MemorySpec,
    Policy,
    Quota,
    Resources,
    ServerLimits,
    StoragePolicy,
)
from hubplugins.policy.rules.gpu_pool import GpuPool
from hubplugins.policy.rules.idle import idle_action
from hubplugins.policy.rules.named_servers import check_new_named_server, check_rename
from hubplugins.policy.rules.profiles import allowed_profiles, profile_slug
from hubplugins.policy.rules.resources import check_start, grant
from hubplugins.policy.rules.resources_text import Request, read_request
from hubplugins.policy.rules.server_names import check_server_name, suggest_name
from hubplugins.policy.table import BUILTIN_DEFAULTS, PolicyTable

__all__ = [
    "BUILTIN_DEFAULTS",
    "DEFAULT_GPU_RESOURCE",
    "ClusterPolicy",
    "ConfigIssue",
    "CpuSpec",
    "Decision",
    "GpuPool",
    "GpuSpec",
    "Grant",
    "IdlePolicy",
    "MemorySpec",
    "Policy",
    "PolicyConfigError",
    "PolicyRefusal",
    "PolicyTable",
    "QuantityError",
    "Quota",
    "Request",
    "Resources",
    "ServerLimits",
    "ServerUsage",
    "StoragePolicy",
    "Usage",
    "allowed_profiles",
    "check_new_named_server",
    "check_rename",
    "check_server_name",
    "check_start",
    "grant",
    "idle_action",
    "profile_slug",
    "read_request",
    "suggest_name",
]
