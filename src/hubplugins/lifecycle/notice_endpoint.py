"""The hub side of notices and of "which rule acted": what the owner is told.

``POST /hub/api/hubplugins/lifecycle/notices/{user}/servers/{server}`` with
``{"last_activity": <as listed>, "delete_at": <when retention deletes it>}``
records the retention notice of a named server for its current idle period
(:func:`hubplugins.hub.usage_store.record_notice`): 201 when recorded now, 200
when the server already has it (the service then sends no second event).
Refusals as the lifecycle endpoint's: 400 malformed, 403 without
``delete:servers`` on the server (and for its owner), 404 gone, 409 kept
(``lifecycle.kept``) or busy, 412 activity since the listing.

:func:`acted` records, for the lifecycle endpoint, which rule stopped or
deleted a server and the group that set it (the owner's page shows it next).
"""

from __future__ import annotations

import asyncio
from typing import Any

from hubplugins._lazy import lazy_classes
from hubplugins.hub import usage_store
from hubplugins.policy.decision import Decision
from hubplugins.policy.rules.notices import notice_allowed, read_notice

__all__ = ["NOTICE_ENDPOINT", "acted", "handlers", "is_kept", "rule_for"]

NOTICE_ENDPOINT = "/api/hubplugins/lifecycle/notices"
RULE_HEADER = "X-Hubplugins-Rule"


def _policy(handler: Any, user: Any) -> Any:
    from hubplugins.hub.config import HubPolicy

    table = HubPolicy.instance_for(handler.settings.get("config"), log=handler.log).table
    return table.resolve(g.name for g in user.groups)


def rule_for(handler: Any, user: Any, action: str) -> tuple[str, str, float]:
    """(rule, the group that set it, its limit in seconds) of ``action`` for ``user``."""
    policy = _policy(handler, user)
    rule = "idle.delete_after" if action == "delete" else "idle.stop_after"
    limit = policy.idle.delete_after if action == "delete" else policy.idle.stop_after
    return rule, policy.sources.get(rule, "defaults"), float(limit or 0)


def is_kept(handler: Any, user: Any, spawner: Any) -> bool:
    """Kept by its owner, in a tier that still allows keeping (a kept mark outlives neither)."""
    if not _policy(handler, user).idle.allow_keep:
        return False
    return bool(usage_store.mark_of(handler.db, spawner.orm_spawner.id).get("kept"))


def acted(handler: Any, user: Any, spawner: Any, action: str, stopped: Any = None) -> None:
    """Record the rule that stopped (once ``stopped`` is done) or deleted ``spawner``."""
    rule, group, limit = rule_for(handler, user, action)
    db = handler.db
    fields = {"user": user.name, "server": spawner.name, "rule": rule, "rule_group": group}
    handler.log.info("hubplugins lifecycle %s of %s by %s (%s)", action, spawner._log_name,
                     rule, group)  # fmt: skip
    if action == "delete":
        usage_store.record_deletion(db, user.id, spawner.name, rule, group, limit)
        return
    orm = spawner.orm_spawner

    def record(_: Any = None) -> None:
        try:
            usage_store.record_stop(db, orm, rule, group, limit)
        except Exception:  # the stop stands; only its note is lost
            handler.log.exception("hubplugins: stop note not recorded: %s", fields)

    if stopped is None or stopped.done():
        record()
    else:
        asyncio.ensure_future(stopped).add_done_callback(record)


def _handler_class() -> type:
    from jupyterhub.apihandlers.base import APIHandler
    from jupyterhub.scopes import needs_scope

    from hubplugins.hub import refusals
    from hubplugins.lifecycle.endpoint import server_now
    from hubplugins.policy.rules.as_planned import refuse

    class NoticeHandler(APIHandler):
        def _refuse(self, decision: Decision, **fields: Any) -> Exception:
            error = refusals.refuse(self.log, "lifecycle-notice", decision, **fields)
            error.headers = {RULE_HEADER: decision.rule}  # type: ignore[attr-defined]
            return error

        @needs_scope("delete:servers")
        async def post(self, user_name: str, server_name: str) -> None:
            requester = self.current_user
            fields = {"user": user_name, "server": server_name}
            request = read_notice(self.get_json_body())
            if isinstance(request, Decision):
                raise self._refuse(request, **fields)
            if getattr(requester, "kind", "") == "user" and requester.name == user_name:
                owner = Decision.refuse(
                    "lifecycle.owner", "Notices are for the lifecycle service.", status=403
                )
                raise self._refuse(owner, **fields)
            user = self.find_user(user_name)
            if user is None or not server_name or server_name not in user.orm_spawners:
                gone = refuse("lifecycle.gone", f"No server {server_name!r} of user {user_name!r}.")
                raise self._refuse(gone, **fields)
            spawner = user.spawners[server_name]
            seen, delete_at = request
            label = f"server {server_name!r} of {user_name}"
            kept = is_kept(self, user, spawner)
            decision = notice_allowed(seen, label, server_now(spawner), kept)
            if not decision.allowed:
                raise self._refuse(decision, **fields)
            noticed = usage_store.record_notice(self.db, spawner.orm_spawner, delete_at)
            self.set_status(201 if noticed else 200)
            self.finish({"noticed": noticed, "delete_at": delete_at})

    return NoticeHandler


# the handler classes, built on first use (see hubplugins._lazy)
__getattr__ = lazy_classes(__name__, _handler_class, "NoticeHandler")


def handlers() -> list[tuple[str, Any]]:
    return [(rf"{NOTICE_ENDPOINT}/([^/]+)/servers/([^/]*)", __getattr__("NoticeHandler"))]
