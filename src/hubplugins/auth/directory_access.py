"""Access that ends when the directory says so: refresh, spawn re-check, running servers.

Mixed into :class:`~hubplugins.auth.directory.DirectoryAuthenticator`, which
provides ``recheck(user)``: a fresh lookup of the account with the service
account, returning ``("ok", model)``, ``("unavailable", None)`` or the reason
access ends (``not_found``, ``disabled``, ``expired``, ``locked``,
``not_allowed``, ``blocked``, ``name_mismatch``, ``replaced``: the saved
``objectGUID`` / ``entryUUID`` differs, so the name now belongs to someone else).

Within ``auth_refresh_age`` of the change, an account that was disabled,
expired, locked, deleted or dropped from ``allowed_groups`` loses access on
every path:

* browser requests: ``refresh_user`` returns False, so the cookie stops working;
* API tokens: the same False ends token requests too. JupyterHub 5.5 always
  does so; 6.1 only with ``Authenticator.auth_refresh_strict``, which this
  authenticator turns on by default (:mod:`.revocation`);
* starts: ``pre_spawn_start`` looks the account up again and refuses with 403
  (admin starts on the user's behalf included);
* running servers: stopped when a refresh finds the account gone
  (``stop_servers_when_revoked``), with a log line naming the reason.

A directory that cannot be reached keeps the current access (refresh) and
refuses starts with 503, so an outage neither signs everybody out nor lets a
start through unchecked.
"""

from __future__ import annotations

from typing import Any

from hubplugins.auth.revocation import Revocation
from hubplugins.hub.refusals import refuse
from hubplugins.policy.decision import Decision

RULE = "directory.account"

REASONS = {
    "not_found": "is no longer in the directory (or no longer matches its user filter)",
    "disabled": "is disabled in the directory",
    "expired": "has expired in the directory",
    "locked": "is locked in the directory",
    "not_allowed": "is no longer in a group allowed to use this hub",
    "blocked": "is blocked on this hub",
    "name_mismatch": "no longer has this username in the directory",
    "replaced": "now names a different directory entry (the name was given to someone else)",
}


def reason_text(outcome: str) -> str:
    return REASONS.get(outcome, f"cannot be confirmed ({outcome})")


class AccessMixin(Revocation):
    """``refresh_user`` and ``pre_spawn_start`` for an authenticator with ``recheck``."""

    async def recheck(self, user: Any) -> tuple[str, dict[str, Any] | None]:
        raise NotImplementedError

    def _rechecks_accounts(self) -> bool:
        return bool(getattr(self, "service_account_dn", ""))

    async def refresh_user(self, user: Any, handler: Any = None) -> bool | dict:
        """The fresh model; True while the directory is unreachable; False when access ends."""
        if not self._rechecks_accounts():
            return True
        outcome, model = await self.recheck(user)
        if outcome == "unavailable":
            return True
        if model is None:
            self.end_access(user, handler, reason_text(outcome))
            return False
        return model

    async def pre_spawn_start(self, user: Any, spawner: Any) -> None:
        """Refuse a start (403) for an account that may no longer use the hub."""
        if not self._rechecks_accounts():
            return
        outcome, _ = await self.recheck(user)
        if outcome == "ok":
            return
        server = getattr(spawner, "name", "") or ""
        if outcome == "unavailable":
            decision = Decision.refuse(
                RULE,
                "The directory cannot be reached to confirm your account. "
                "Try again in a few minutes.",
                status=503,
                usage=outcome,
            )
        else:
            decision = Decision.refuse(
                RULE,
                f"Cannot start a server: the account {user.name!r} {reason_text(outcome)}.",
                status=403,
                usage=outcome,
            )
        log = self.log  # type: ignore[attr-defined]
        error = refuse(log, "spawn.account", decision, user=user.name, server=server)
        if decision.status == 503:  # not a policy outcome: keep the status tornado sends
            error.status_code = 503
        raise error
