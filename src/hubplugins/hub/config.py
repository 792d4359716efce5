"""Wiring: the ``HubPolicy`` config section and ``setup(c)``.

``HubPolicy`` turns traitlets config (``c.HubPolicy.policy`` or a YAML
``c.HubPolicy.policy_file``) into one validated
:class:`~hubplugins.policy.table.PolicyTable`, shared by the spawner, the
hub-level hooks and the CLI through :meth:`HubPolicy.instance_for`.

``setup(c)`` is the one call in ``jupyterhub_config.py`` (or
``hub.extraConfig``). It runs the steps in :data:`SETUP_STEPS`, one function per
concern, each changing only ``c``. Call it *after* setting ``c.HubPolicy``: the
policy is then validated while the config loads, so a broken table stops the
hub at start with every error and its key path. (Set later, it is validated on
first use.)
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from traitlets import Dict, Unicode
from traitlets.config import Config, LoggingConfigurable

from hubplugins.hub.trait_help import example, trait_help
from hubplugins.policy.decision import Decision, ServerUsage, Usage
from hubplugins.policy.errors import ConfigIssue, PolicyConfigError
from hubplugins.policy.profile_overrides import profile_override_issues, unknown_profile_issues
from hubplugins.policy.rules.named_servers import check_new_named_server
from hubplugins.policy.rules.profiles import profile_slug_issues
from hubplugins.policy.rules.server_names import check_server_name
from hubplugins.policy.table import PolicyTable

__all__ = [
    "SETUP_STEPS",
    "HubPolicy",
    "configure_named_servers",
    "named_server_check",
    "named_server_limit",
    "setup",
    "validate_policy",
    "validate_profile_list",
]

_EXAMPLE = """
            c.HubPolicy.policy = {
                "defaults": {
                    "servers": {"max_named": 5, "max_running": 6},
                    "resources": {"memory": {"guarantee": "1G", "limit": "2G", "max": "2G"}},
                    "quota": {"memory": "4G"},
                },
                "groups": {"gpu-beta": {"resources": {"gpu": {"max": 2}}, "quota": {"gpu": 2}}},
                "cluster": {"gpu_pool": {"nvidia.com/gpu": 4}},
            }
"""


class HubPolicy(LoggingConfigurable):
    """The hub's policy table, read by every hubplugins component."""

    policy = Dict(
        config=True,
        help=trait_help(
            """
            The policy table: ``defaults`` for every signed-in user, ``groups``
            (JupyterHub group name -> partial policy, most generous value wins
            where a user's groups disagree) and ``cluster`` (hub-wide GPU pool).

            Memory and storage take Kubernetes quantities (``2G`` is 2·10⁹ bytes,
            ``2Gi`` is 2·2³⁰), CPU takes cores (``0.5``, ``500m``), durations take
            ``90s``, ``30m``, ``2h``, ``7d`` or seconds; ``null`` (``None``) means
            no limit (or never). Unknown keys and impossible combinations stop the
            hub at start with the key path of each problem. An empty dict (the
            default) gives the built-in defaults. Set this or ``policy_file``, then
            call ``hubplugins.setup(c)``, which validates it while the config
            loads. In the chart the table is usually written straight into the
            values, as below. Check a table without a hub: ``hubplugins check FILE``.
            """,
            example(
                "HubPolicy",
                "policy",
                {
                    "defaults": {
                        "servers": {"max_named": 5, "max_running": 6},
                        "resources": {"memory": {"guarantee": "1G", "limit": "2G", "max": "2G"}},
                        "quota": {"memory": "4G"},
                    },
                    "groups": {"gpu-beta": {"resources": {"gpu": {"max": 2}}, "quota": {"gpu": 2}}},
                    "cluster": {"gpu_pool": {"nvidia.com/gpu": 4}},
                },
            ),
        ),
    )

    policy_file = Unicode(
        "",
        config=True,
        help=trait_help(
            """
            Path of a YAML file holding the policy table (same shape as
            ``policy``), e.g. a ConfigMap mounted into the hub pod (in the chart,
            with ``hub.extraVolumes`` and ``hub.extraVolumeMounts``). Read once
            when the hub starts: a change needs a hub restart. Set either this or
            ``policy``, not both. Empty (the default) means use ``policy``.
            """,
            example("HubPolicy", "policy_file", "/etc/hubplugins/policy.yaml"),
        ),
    )

    _tables: ClassVar[dict[str, PolicyTable]] = {}

    @classmethod
    def instance_for(cls, config: Config | None = None, log: Any = None) -> HubPolicy:
        """A HubPolicy reading ``config``; its validated :attr:`table` is shared
        by every instance with the same policy."""
        kwargs: dict[str, Any] = {"config": config if config is not None else Config()}
        if log is not None:
            kwargs["log"] = log
        return cls(**kwargs)

    @property
    def cache_key(self) -> str:
        return json.dumps([self.policy, self.policy_file], sort_keys=True, default=str)

    @property
    def table(self) -> PolicyTable:
        """The validated policy table; raises :class:`PolicyConfigError` if invalid."""
        key = self.cache_key
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = self._load()
            self.log.info(
                "hubplugins policy loaded%s: groups %s",
                f" from {self.policy_file}" if self.policy_file else "",
                ", ".join(table.group_names) or "(none)",
            )
        return table

    def _load(self) -> PolicyTable:
        source = "c.HubPolicy.policy"
        if self.policy_file:
            if self.policy:
                issue = ConfigIssue("", "set HubPolicy.policy or HubPolicy.policy_file, not both")
                raise PolicyConfigError([issue], "HubPolicy")
            return PolicyTable.from_file(self.policy_file)
        return PolicyTable.from_dict(self.policy, source=source)


# -- setup(c) ------------------------------------------------------------------


def validate_policy(c: Config) -> None:
    """Validate ``c.HubPolicy`` now, if it is set, so a broken table stops the hub at start."""
    section = c.get("HubPolicy") or {}
    if section.get("policy") or section.get("policy_file"):
        try:
            HubPolicy.instance_for(c).table  # noqa: B018 - raises PolicyConfigError if invalid
        except PolicyConfigError as exc:
            # the profile list's own errors too, so the hub stops once with every problem
            more = [i for i in _profile_list_issues(c, None) if i.severity == "error"]
            raise PolicyConfigError([*exc.issues, *more], exc.source) from None


def _profile_list_issues(c: Config, table: PolicyTable | None) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for section in ("KubeSpawner", "PolicySpawner"):
        profile_list = (c.get(section) or {}).get("profile_list")
        if profile_list and not callable(profile_list):
            path = f"{section}.profile_list"
            issues.extend(profile_slug_issues(profile_list, path=path))
            # each profile's resources, read as KubeSpawner reads them, against each tier
            issues.extend(profile_override_issues(table, profile_list, path))
            issues.extend(unknown_profile_issues(table, profile_list, path))
    return issues


def validate_profile_list(c: Config) -> None:
    """Stop the hub at start when two profiles of a static ``profile_list`` share a slug,
    or a profile sets a resource KubeSpawner cannot read; log each profile a tier
    may pick but never start (see :mod:`hubplugins.policy.profile_overrides`).

    Checks ``c.KubeSpawner.profile_list`` and ``c.PolicySpawner.profile_list``
    as set so far (a callable one is checked at each start instead, where an
    ambiguous list refuses the start). Raises :class:`PolicyConfigError`
    naming both profiles and the slug.
    """
    issues = _profile_list_issues(c, HubPolicy.instance_for(c).table)
    for issue in issues:
        if issue.severity == "warning":
            logging.getLogger("JupyterHub").warning("hubplugins: %s", issue)
    errors = [issue for issue in issues if issue.severity == "error"]
    if errors:
        raise PolicyConfigError(errors, "the spawner's profile_list")


def named_server_check(
    table: PolicyTable, groups: Iterable[str], existing: Iterable[str], new_name: str | None
) -> tuple[int, Decision]:
    """The pure part of the named-server hook.

    Returns ``(limit, decision)``: ``limit`` is the number JupyterHub's
    ``named_server_limit_per_user`` should enforce (``0`` = no limit there,
    also when the policy allows none: the decision refuses those), and
    ``decision`` whether creating ``new_name`` is allowed (always allowed
    when no new name is being created).
    """
    policy = table.resolve(groups)
    max_named = policy.servers.max_named
    limit = max_named or 0
    names = list(existing)
    usage = Usage.of(ServerUsage(name) for name in names)
    if not new_name or new_name in names:
        return limit, Decision.allow("servers.max_named", limit=max_named, usage=usage.named_count)
    decision = check_server_name(policy, new_name)
    if decision.allowed:
        decision = check_new_named_server(policy, usage, new_name)
    return limit, decision


def _requested(handler: Any) -> tuple[str | None, str | None]:
    """(target user name, new server name) of the request ``handler`` serves."""
    args = [a for a in getattr(handler, "path_args", None) or [] if isinstance(a, str)]
    user_name = args[0] if args else None
    server_name = args[1] if len(args) > 1 else None
    request = getattr(handler, "request", None)
    if server_name == "" and getattr(request, "method", "") == "PATCH":
        # renaming the default server creates a named one: the new name is in the body
        try:
            body = json.loads(request.body or b"{}")  # type: ignore[union-attr]
        except ValueError:
            body = {}
        name = body.get("name") if isinstance(body, Mapping) else None
        server_name = name if isinstance(name, str) else None
    return user_name, server_name


def named_server_limit(c: Config) -> Callable[[Any], Any]:
    """The ``JupyterHub.named_server_limit_per_user`` callable for config ``c``.

    JupyterHub (5.5 and 6.x) awaits it with the request handler when a named
    server is requested, before any record exists. It applies the policy of
    the *target* user (from the request path; the requester may be an admin
    or a service), raises a 4xx with the policy's message when the name or
    the count breaks the policy, and otherwise returns the user's
    ``max_named`` for JupyterHub's own check (and the home page).
    """

    async def limit_for(handler: Any) -> int:
        config = (getattr(handler, "settings", None) or {}).get("config") or c
        table = HubPolicy.instance_for(config, log=getattr(handler, "log", None)).table
        user_name, new_name = _requested(handler)
        user = handler.find_user(user_name) if user_name else handler.current_user
        if user is None:
            return 0  # JupyterHub answers 404 for an unknown user
        groups = [g.name for g in user.groups]
        limit, decision = named_server_check(table, groups, user.orm_spawners, new_name)
        from hubplugins.hub.refusals import enforce  # tornado, once a hub runs

        enforce(handler.log, "named-server", decision, user=user.name, server=new_name)
        return limit

    return limit_for


def configure_named_servers(c: Config) -> None:
    """Named servers on, their count and names checked by the policy."""
    c.JupyterHub.allow_named_servers = True
    c.JupyterHub.named_server_limit_per_user = named_server_limit(c)


SETUP_STEPS: list[str | Callable[[Config], None]] = [
    validate_policy,
    validate_profile_list,
    configure_named_servers,
    # the lifecycle service, its role and the endpoint it stops and deletes through
    "hubplugins.lifecycle.hub_setup:setup_lifecycle",
    "hubplugins.spawner.storage:setup_handlers",  # SSH public key and volume-failure endpoints
    "hubplugins.hub.identity_api:setup_handlers",  # admins re-link an account's identity
    # GET /hub/api/hubplugins/usage, the keep endpoint, the home page's usage panel
    "hubplugins.spawner.usage_api:setup_usage",
    # the fair GPU line's endpoints (GET and DELETE /hub/api/hubplugins/gpu-queue/...)
    "hubplugins.spawner.gpu_line:setup_gpu_queue",
    # indexes on the columns of the hub's tables a stop looks rows up by, once started
    "hubplugins.hub.indexes:setup_hub_indexes",
    # further steps add themselves here, as "module:function" (imported when
    # setup runs) or a function taking the config, e.g. the lifecycle service
]


def _step(step: str | Callable[[Config], None]) -> Callable[[Config], None]:
    if callable(step):
        return step
    module, _, name = step.partition(":")
    function: Callable[[Config], None] = getattr(importlib.import_module(module), name)
    return function


def setup(c: Config) -> None:
    """Wire hubplugins into a JupyterHub config: ``hubplugins.setup(c)``.

    Changes only ``c``; see :data:`SETUP_STEPS` for what it does.
    """
    for step in SETUP_STEPS:
        _step(step)(c)
