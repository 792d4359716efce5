"""A pod refused by a Kubernetes ``ResourceQuota``, as the refusal users see.

Several hubs (or a hub and other services) in one namespace share a pool of
GPUs through a ``ResourceQuota`` (``requests.nvidia.com/gpu: 4``): the API
server's admission decides, atomically with the creation, whether a pod fits,
so two hubs racing can never exceed the quota. Its refusal is a **403
Forbidden** whose message reads::

    pods "jupyter-alice" is forbidden: exceeded quota: gpus,
    requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=4,
    limited: requests.nvidia.com/gpu=4

:func:`quota_refusal` turns that message into the same kind of answer as the
hub's own pool: a **409 Conflict** naming the quota, the limit and the usage
(the request is valid but the shared resource is in use), or, for a quota the
pod does not satisfy at all (``failed quota: ...: must specify ...``), a 403
for the hub's admins to fix. Any other message is not a quota's: None.
"""

from __future__ import annotations

import re

from hubplugins.policy.decision import Decision
from hubplugins.policy.text import echo

__all__ = ["QUOTA_RULE", "quota_refusal"]

GPU_RULE = "cluster.gpu_pool"
QUOTA_RULE = "namespace.resourcequota"
_COMPUTE = ("cpu", "memory", "ephemeral-storage", "pods")

_EXCEEDED = re.compile(
    r"exceeded quota: (?P<name>[^,]+), requested: (?P<requested>\S+), "
    r"used: (?P<used>\S+), limited: (?P<limited>\S+)"
)
_FAILED = re.compile(r"failed quota: (?P<name>[^:]+): (?P<why>.+)")


def _pairs(text: str) -> dict[str, str]:
    pairs = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if sep:
            pairs[key.strip()] = value.strip()
    return pairs


def _is_gpu(key: str) -> bool:
    resource = key.removeprefix("requests.").removeprefix("limits.")
    return "/" in resource and not resource.startswith("count/") and resource not in _COMPUTE


def quota_refusal(message: str) -> Decision | None:
    """The refusal for an API server's quota message; None if it is no quota's."""
    exceeded = _EXCEEDED.search(message)
    if exceeded is not None:
        name = exceeded["name"].strip()
        requested, used, limited = (_pairs(exceeded[k]) for k in ("requested", "used", "limited"))
        key = next(iter(sorted(requested, key=lambda k: not _is_gpu(k))), "")
        asked, in_use, hard = requested.get(key, "?"), used.get(key, "?"), limited.get(key, "?")
        if _is_gpu(key):
            resource = key.removeprefix("requests.")
            return Decision.refuse(
                GPU_RULE,
                f"GPU pool exhausted: {in_use} of the {hard} {resource} GPUs shared in this "
                f"namespace (quota {echo(name)}) are in use and this server asks for {asked}. "
                "Try again when another server stops, or ask for fewer GPUs.",
                status=409,
                limit=hard,
                usage=in_use,
                resource=resource,
                quota=name,
            )
        return Decision.refuse(
            QUOTA_RULE,
            f"Namespace quota {echo(name)} reached: {in_use} of {hard} {key} in use and this "
            f"server asks for {asked}. Try again when another server stops, or ask for less.",
            status=409,
            limit=hard,
            usage=in_use,
            resource=key,
            quota=name,
        )
    failed = _FAILED.search(message)
    if failed is not None:
        return Decision.refuse(
            QUOTA_RULE,
            f"The namespace's quota {echo(failed['name'].strip())} refuses this server's pod "
            f"({echo(failed['why'].strip(), 120)}). Ask the hub's admins to set these "
            "resources for every server.",
            status=403,
            quota=failed["name"].strip(),
        )
    return None
