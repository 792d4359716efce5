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
from hubplugins.policy.rules.sign_in import account_recheck_refused, reason_text


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
        decision = account_recheck_refused(user.name, outcome)
        log = self.log  # type: ignore[attr-defined]
        error = refuse(log, "spawn.account", decision, user=user.name, server=server)
        if decision.status == 503:  # not a policy outcome: keep the status tornado sends
            error.status_code = 503
        raise error
