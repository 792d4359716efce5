"""Where a user stands, from the hub: the usage endpoint, the keep endpoint, the home page.

- ``GET /hub/api/hubplugins/usage`` (the requester's own) and
  ``GET /hub/api/hubplugins/usage/{user}``: scope ``read:servers`` on that
  user (every user has it on themselves; admins and the lifecycle service on
  everyone). The answer is :func:`hubplugins.policy.usage_report.usage_report`.
- ``POST /hub/api/hubplugins/usage/{user}/servers/{server}/keep`` with
  ``{"keep": true}`` (or false): scope ``servers`` on that server (its owner,
  an admin). Refused (403, rule ``idle.allow_keep``) unless the owner's tier
  sets ``idle.allow_keep``; the lifecycle endpoint never deletes a kept server.
- The home page's panel: ``setup(c)`` adds this package's ``templates``
  directory *after* any ``JupyterHub.template_paths`` a site set (so a site's
  own ``home.html`` still wins) and the ``hubplugins_usage`` template
  variable, which the panel calls (on the home page only) for the same report.

Everything is read from the hub's own records and KubeSpawner's pod
reflector: no Kubernetes request, nothing created.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hubplugins._lazy import lazy_classes
from hubplugins.hub import usage_store
from hubplugins.hub.config import HubPolicy
from hubplugins.policy.decision import Decision
from hubplugins.policy.pod_holdings import pooled_holdings
from hubplugins.policy.usage_report import PoolState, ServerFacts, usage_report
from hubplugins.spawner.pool_sync import granted_usage, larger, usage_from_pods

__all__ = ["TEMPLATES", "report_for", "setup_usage"]

USAGE_PATH = r"/api/hubplugins/usage"
USER_PATH = r"/api/hubplugins/usage/([^/]+)"
KEEP_PATH = r"/api/hubplugins/usage/([^/]+)/servers/([^/]*)/keep"
TEMPLATES = str(Path(__file__).parents[1] / "templates")


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _hub_pods() -> dict[str, Any] | None:
    """Every pod KubeSpawner's shared pod reflectors have listed (no request)."""
    try:
        from kubespawner import KubeSpawner
    except ImportError:  # pragma: no cover - the hub image always has it
        return None
    pods: dict[str, Any] = {}
    listed = False
    for key, reflector in list(KubeSpawner.reflectors.items()):
        if not (isinstance(key, tuple) and key[:1] == ("pods",)):
            continue
        loaded = reflector.first_load_future
        if loaded.done() and not loaded.cancelled() and loaded.exception() is None:
            pods.update(reflector.pods)
            listed = True
    return pods if listed else None


def _pool(table: Any, pods: dict[str, Any] | None) -> list[PoolState]:
    from hubplugins.spawner import PolicySpawner

    capacity = dict(table.cluster.gpu_pool)
    pool = PolicySpawner._gpu_pools.get("default")
    held = pooled_holdings(list((pods or {}).items()), set(capacity)) if pods else {}
    states = []
    for resource, size in capacity.items():
        in_use = (
            pool.in_use(resource, held)
            if pool is not None
            else sum(h.get(resource, 0) for h in held.values())
        )
        states.append(PoolState(resource, in_use, size))
    return states


def report_for(user: Any, config: Any, now: datetime | None = None) -> dict[str, Any]:
    """The usage report of JupyterHub ``user`` (a ``jupyterhub.user.User``)."""
    table = HubPolicy.instance_for(config).table
    policy = table.resolve(g.name for g in user.groups)
    pods = _hub_pods()
    gpus = [policy.resources.gpu.resource, *table.cluster.gpu_pool]
    from_pods = usage_from_pods(pods, user.name, gpus)
    db = user.db
    servers = []
    for name, orm in sorted(user.orm_user.orm_spawners.items()):
        spawner = user.spawners.get(name)  # dict.get: never makes a spawner
        active = bool(spawner is not None and spawner.active)
        ready = bool(spawner is not None and spawner.ready) or orm.server is not None
        grant = getattr(spawner, "_grant", None) if active else None
        held = larger(granted_usage(name, ready or active, grant), from_pods.pop(name, None))
        facts = usage_store.notes_of(usage_store.mark_of(db, orm.id), orm)
        facts["kept"] = facts["kept"] and policy.idle.allow_keep  # a tier that still allows it
        servers.append(
            ServerFacts(
                name=name,
                running=held.running,
                pending=(spawner.pending if spawner is not None else None) or None,
                started=_aware(orm.started),
                last_activity=_aware(orm.last_activity),
                cpu=held.cpu,
                memory=held.memory,
                gpu=held.gpu,
                **facts,
            )
        )
    deleted = usage_store.deletions(db, user.id)
    return usage_report(
        user.name, policy, servers, _pool(table, pods), now or datetime.now(UTC), deleted
    )


def _handler_classes() -> tuple[type, type]:
    from jupyterhub.apihandlers.base import APIHandler
    from jupyterhub.scopes import needs_scope
    from tornado import web

    from hubplugins.hub import refusals
    from hubplugins.hub.refusals import log_decision

    class UsageHandler(APIHandler):
        """``GET``: one user's usage against their policy."""

        @needs_scope("read:servers")
        async def _get(self, user_name: str) -> None:
            user = self.find_user(user_name)
            if user is None:
                raise web.HTTPError(404, f"No such user: {user_name[:64]}")
            self.finish(report_for(user, self.settings.get("config")))

        async def get(self, user_name: str | None = None) -> None:
            if user_name is None:
                me = self.current_user
                if me is None or getattr(me, "kind", "") != "user":
                    raise web.HTTPError(400, "Name the user: GET /hub/api/hubplugins/usage/{user}")
                user_name = me.name
            await self._get(user_name)

    class KeepHandler(APIHandler):
        """``POST {"keep": true|false}``: keep a server from retention (if the tier allows)."""

        @needs_scope("servers")
        async def post(self, user_name: str, server_name: str) -> None:
            body = self.get_json_body()
            if not isinstance(body, dict) or not isinstance(body.get("keep"), bool):
                raise web.HTTPError(400, 'Send {"keep": true} or {"keep": false}')
            user = self.find_user(user_name)
            if user is None or server_name not in user.orm_spawners:
                raise web.HTTPError(404, f"No server {server_name[:64]!r} of {user_name[:64]}")
            table = HubPolicy.instance_for(self.settings.get("config")).table
            policy = table.resolve(g.name for g in user.groups)
            fields = {"user": user_name, "server": server_name, "keep": body["keep"]}
            if body["keep"] and not policy.idle.allow_keep:
                decision = Decision.refuse(
                    "idle.allow_keep",
                    f"Servers cannot be kept for your groups ({policy.tier}): the rule "
                    "idle.allow_keep is off. Starting a server resets its idle time.",
                    status=403,
                    limit=False,
                )
                raise refusals.refuse(self.log, "usage-keep", decision, **fields)
            usage_store.set_kept(self.db, user.orm_spawners[server_name].id, body["keep"])
            log_decision(self.log, "usage-keep", {"outcome": "kept" if body["keep"] else "unkept"},
                         **fields)  # fmt: skip
            self.finish(report_for(user, self.settings.get("config")))

    return UsageHandler, KeepHandler


# the handler classes, built on first use (see hubplugins._lazy)
__getattr__ = lazy_classes(__name__, _handler_classes, "UsageHandler", "KeepHandler")


def handlers() -> list[tuple[str, Any]]:
    usage = __getattr__("UsageHandler")
    return [(USAGE_PATH, usage), (USER_PATH, usage), (KEEP_PATH, __getattr__("KeepHandler"))]


def template_var(c: Any) -> Any:
    """The ``hubplugins_usage`` template variable: ``user -> (() -> report or None)``."""

    def for_user(user: Any) -> Any:
        def report() -> dict[str, Any] | None:
            if user is None or not hasattr(user, "orm_user"):
                return None
            try:
                return report_for(user, getattr(user, "settings", {}).get("config") or c)
            except Exception:  # the home page must render without the panel
                user.log.exception("hubplugins usage panel failed for %s", user.name)
                return None

        return report

    return for_user


def setup_usage(c: Any) -> None:
    """The ``setup(c)`` step: the endpoints, the home page panel and its template variable."""
    hub = c.JupyterHub
    existing = list(hub.extra_handlers) if "extra_handlers" in hub else []
    paths = {entry[0] for entry in existing}
    hub.extra_handlers = [*existing, *(h for h in handlers() if h[0] not in paths)]
    templates = list(hub.template_paths) if "template_paths" in hub else []
    if TEMPLATES not in templates:
        hub.template_paths = [*templates, TEMPLATES]
    variables = dict(hub.template_vars) if "template_vars" in hub else {}
    variables.setdefault("hubplugins_usage", template_var(c))
    hub.template_vars = variables
