"""The pure policy core, in one import.

Everything here is plain Python: no JupyterHub, tornado, Kubernetes or LDAP
imports, no I/O beyond reading a policy file on request, and no clock (idle
times are passed in)::

    from hubplugins.policy import PolicyTable, Usage, ServerUsage, parse_request, check_start

    table = PolicyTable.from_yaml(text)
    policy = table.resolve(["gpu-beta"])
    decision = check_start(policy, usage, parse_request(opts), server_name="nb1").enforce()
    decision.details["mem_limit"]  # bytes
"""

from __future__ import annotations

from .checks import (
    allowed_profiles,
    check_new_named_server,
    check_profile,
    check_rename,
    idle_action,
    profile_slug,
)
from .decisions import Decision, ServerUsage, Usage
from .errors import ConfigIssue, PolicyConfigError, PolicyRefusal, QuantityError
from .gpu_pool import GpuPool
from .policy_model import (
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
from .policy_table import BUILTIN_DEFAULTS, PolicyTable
from .resources_text import Request, parse_request, parse_resources_text
from .server_names import check_server_name, suggest_name
from .start_checks import check_start, grant, refuse_manifest

__all__ = [
    "BUILTIN_DEFAULTS",
    "DEFAULT_GPU_RESOURCE",
    "ClusterPolicy",
    "ConfigIssue",
    "CpuSpec",
    "Decision",
    "GpuPool",
    "GpuSpec",
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
    "check_profile",
    "check_rename",
    "check_server_name",
    "check_start",
    "grant",
    "idle_action",
    "parse_request",
    "parse_resources_text",
    "profile_slug",
    "refuse_manifest",
    "suggest_name",
]
