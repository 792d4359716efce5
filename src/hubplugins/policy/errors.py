"""The exception types of hubplugins.

Two kinds of failure leave the policy core:

- :class:`PolicyConfigError`: the admin's policy table is wrong. Raised at hub
  start (or by ``hubplugins check``) and carries *every* problem found, each
  naming its key path.
- :class:`PolicyRefusal`: a user's request breaks the policy. It carries the
  :class:`~hubplugins.policy.decision.Decision` (rule, limit, usage, message, HTTP
  status); the adapters map it to an HTTP 4xx in one place.

Both are plain exceptions: this module imports nothing from JupyterHub or
tornado, so the pure core can raise them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from hubplugins.policy.decision import Decision


class QuantityError(ValueError):
    """A CPU, memory, storage or duration value that cannot be read."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a policy table: where it is and what is wrong.

    ``severity`` is ``error`` (the hub refuses to start with it) or
    ``warning`` (the hub starts and logs it; ``hubplugins check --strict``
    fails on it).
    """

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PolicyConfigError(ValueError):
    """The policy table is invalid. ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[ConfigIssue], source: str = "") -> None:
        self.issues: list[ConfigIssue] = list(issues)
        self.source = source
        super().__init__(self._summary())

    @property
    def errors(self) -> list[str]:
        """Every problem as one ``key.path: message`` string."""
        return [str(issue) for issue in self.issues]

    def _summary(self) -> str:
        where = f" in {self.source}" if self.source else ""
        n = len(self.issues)
        head = f"invalid hub policy{where} ({n} error{'s' if n != 1 else ''}):"
        return "\n".join([head, *(f"  {e}" for e in self.errors)])


class PolicyRefusal(Exception):
    """A request refused by the policy; ``decision`` says why.

    ``status`` is the HTTP status to answer with (always 4xx) and ``message``
    the text a user can act on.
    """

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(decision.message)

    @property
    def status(self) -> int:
        return self.decision.status

    @property
    def message(self) -> str:
        return self.decision.message
