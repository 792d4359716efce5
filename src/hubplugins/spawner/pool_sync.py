"""The GPU pool and the quotas reconciled with Kubernetes, from KubeSpawner's pod reflector.

KubeSpawner keeps one shared pod reflector per namespace (all pods labelled
``component=singleuser-server``), listed once and then watched, so reading it
costs no Kubernetes request. The spawner awaits its first list before a start
is checked: a hub that has not listed the pods yet (just restarted, or the API
is unreachable) never takes that for an empty pool.

Which pods count: every pod the reflector sees, whichever hub made it. A
namespace shared by two hubs counts both hubs' GPU pods against each pool,
and a user's pods (by KubeSpawner's ``hub.jupyter.org/username`` annotation)
against their quota, but only the pods of this hub: those carrying every one
of its ``KubeSpawner.common_labels`` (Zero-to-JupyterHub sets ``release`` to
the release name, so two releases in one namespace tell their pods apart;
with no labels set, every user pod counts, the safe side). Pods without the
``component=singleuser-server`` label are not seen.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping
from typing import Any

from hubplugins.policy.decision import ServerUsage
from hubplugins.policy.errors import QuantityError
from hubplugins.policy.grant import Grant
from hubplugins.policy.pod_holdings import has_labels, holdings, is_live, pod_owner, pooled_holdings
from hubplugins.policy.quantities import parse_cpu
from hubplugins.policy.rules.gpu_pool import GpuPool, not_synced

__all__ = [
    "demand",
    "larger",
    "live_pods",
    "pod_key",
    "pods_now",
    "pool_holdings",
    "reserve",
    "restore",
    "usage_from_pods",
]

Pods = Mapping[str, Mapping[str, Any]]


def pod_key(spawner: Any) -> str:
    """The reflector's key of the spawner's pod: ``namespace/name``."""
    return f"{spawner.namespace}/{spawner.pod_name}"


async def live_pods(spawner: Any) -> Pods | None:
    """The pods as the reflector has them, once it has listed them; None if it cannot.

    Starts KubeSpawner's shared pod reflector if it is not running yet and
    waits for its first list; the fast path (already listed) does not
    suspend. The reflector start is shielded: a cancelled start never leaves
    a half-started shared reflector behind.
    """
    pods = pods_now(spawner)
    if pods is not None:
        return pods
    try:
        reflector = await asyncio.shield(spawner._start_watching_pods())
    except Exception as e:  # the API unreachable or forbidden: not an empty pool
        spawner.log.warning("Pods of %s not listed: %s", spawner.namespace, e)
        return None
    return reflector.pods


def pods_now(spawner: Any) -> Pods | None:
    """The reflector's pods if it has listed them, without waiting (for metrics)."""
    reflector = spawner.pod_reflector
    if reflector is None:
        return None
    loaded = reflector.first_load_future
    if not loaded.done() or loaded.cancelled() or loaded.exception() is not None:
        return None
    pods: Pods = reflector.pods
    return pods


def pool_holdings(
    pods: Pods | None, pool: GpuPool, also: Iterable[str] = ()
) -> dict[str, dict[str, int]]:
    """``{pod key: {resource: count}}`` for the pooled resources (and ``also``)."""
    if not pods:
        return {}
    return pooled_holdings(list(pods.items()), {*pool.capacity, *also})


def _count(value: Any) -> int:
    """Whole devices of an extended resource quantity (a fraction holds a whole one)."""
    try:
        return math.ceil(parse_cpu(value))
    except QuantityError:
        return 0


def demand(spawner: Any, grant: Grant, pool: GpuPool) -> dict[str, int]:
    """What the server's pod will hold of the pooled resources: ``{resource: count}``.

    The grant's GPUs (of the tier's one GPU resource), and every other pooled
    resource the spawner's ``extra_resource_limits``/``extra_resource_guarantees``
    give the pod (a profile's ``kubespawner_override``, say).
    """
    wanted: dict[str, int] = {}
    granted = grant.gpu_resource
    if grant.gpu:
        wanted[granted] = grant.gpu
    for resource in pool.capacity:
        if resource == granted:
            continue
        n = max(
            _count(spawner.extra_resource_limits.get(resource, 0)),
            _count(spawner.extra_resource_guarantees.get(resource, 0)),
        )
        if n:
            wanted[resource] = n
    return wanted


def reserve(spawner: Any, server_id: str, grant: Grant, pods: Pods | None) -> dict[str, int]:
    """Reserve what the server's pod will hold of the pooled resources; returns it.

    Counted with the live ``pods`` (None: not listed, so a start asking for a
    pooled resource is refused rather than counted against an empty pool).
    Raises :class:`~hubplugins.policy.errors.PolicyRefusal` when the pool is
    exhausted; sets ``spawner._pool_counts`` (``pool_in_use``, ``pool_size``).
    """
    pool: GpuPool = spawner.gpu_pool
    wanted = demand(spawner, grant, pool)
    if not wanted:
        pool.release(server_id)
        return wanted
    if pods is None:
        not_synced(next(iter(wanted))).enforce()
    decision = pool.reserve(
        server_id, wanted, pod=pod_key(spawner), pods=pool_holdings(pods, pool, wanted)
    )
    decision.enforce()
    spawner._pool_counts = {
        "pool_in_use": decision.details.get("in_use"),
        "pool_size": decision.details.get("size"),
    }
    return wanted


def restore(spawner: Any, server_id: str, grant: Grant, saved: Any) -> dict[str, int]:
    """Restore the reservation of a server found running in saved state; returns it."""
    if not isinstance(saved, dict):  # saved before every pooled resource was kept
        saved = {grant.gpu_resource: grant.gpu}
    wanted = {str(k): int(v) for k, v in saved.items() if v}
    if wanted:
        spawner.gpu_pool.restore(server_id, wanted, pod=pod_key(spawner))
    return wanted


def usage_from_pods(
    pods: Pods | None,
    user: str,
    gpu_resources: Iterable[str],
    labels: Mapping[str, str] | None = None,
) -> dict[str, ServerUsage]:
    """The user's servers as their live pods say: server name -> what its pods hold.

    Only pods carrying every one of ``labels`` (this hub's ``common_labels``) count.
    """
    found: dict[str, ServerUsage] = {}
    if not pods:
        return found
    gpus = tuple(dict.fromkeys(gpu_resources))
    wanted = dict(labels or {})
    for pod in list(pods.values()):
        owner = pod_owner(pod)
        if owner is None or owner[0] != user or not is_live(pod):
            continue
        if wanted and not has_labels(pod, wanted):
            continue
        name = owner[1]
        held = holdings(pod)
        seen = found.get(name, ServerUsage(name, running=True))
        kinds = {r: seen.gpus.get(r, 0) + int(held.get(r, 0)) for r in gpus}
        found[name] = ServerUsage(
            name,
            running=True,
            cpu=seen.cpu + held.get("cpu", 0.0),
            memory=seen.memory + int(held.get("memory", 0)),
            gpu=seen.gpu + sum(int(held.get(r, 0)) for r in gpus),
            gpus={r: n for r, n in kinds.items() if n},
        )
    return found


def granted_usage(name: str, running: bool, grant: Grant | None) -> ServerUsage:
    """A server as its grant counts it: its limits and its GPUs of the granted kind."""
    if grant is None:
        return ServerUsage(name, running=running)
    return ServerUsage(
        name,
        running=running,
        cpu=grant.cpu_limit,
        memory=grant.mem_limit,
        gpu=grant.gpu,
        gpus={grant.gpu_resource: grant.gpu} if grant.gpu else {},
    )


def larger(a: ServerUsage, b: ServerUsage | None) -> ServerUsage:
    """A server counted with the larger of what the hub granted and what its pods hold."""
    if b is None:
        return a
    kinds = {r: max(a.gpus.get(r, 0), b.gpus.get(r, 0)) for r in {*a.gpus, *b.gpus}}
    return ServerUsage(
        a.name,
        running=a.running or b.running,
        cpu=max(a.cpu, b.cpu),
        memory=max(a.memory, b.memory),
        gpu=max(a.gpu, b.gpu),
        gpus=kinds,
    )
