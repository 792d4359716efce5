"""The module paths of before the layers, kept working with a deprecation warning.

``hubplugins.config`` is now ``hubplugins.hub.config``, ``hubplugins.policy_table``
``hubplugins.policy.table``, and so on (:data:`MOVED`). Importing an old path
warns once and gives the module at its new path, the same object, so a
``c.JupyterHub.spawner_class`` or an import in a ``jupyterhub_config.py``
written for an earlier release still works. The public names
(``hubplugins.setup``, ``hubplugins.spawner.PolicySpawner``,
``hubplugins.auth.oidc.OIDCAuthenticator``, ...) did not move.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED = {
    "hubplugins.config": "hubplugins.hub.config",
    "hubplugins.decisions": "hubplugins.policy.decision",
    "hubplugins.edge": "hubplugins.hub.refusals",
    "hubplugins.errors": "hubplugins.policy.errors",
    "hubplugins.failure_count": "hubplugins.hub.failure_count",
    "hubplugins.file_checks": "hubplugins.policy.config_files",
    "hubplugins.gpu_line": "hubplugins.spawner.gpu_line",
    "hubplugins.gpu_line_api": "hubplugins.spawner.gpu_line_api",
    "hubplugins.gpu_pool": "hubplugins.policy.rules.gpu_pool",
    "hubplugins.gpu_queue": "hubplugins.policy.rules.gpu_queue",
    "hubplugins.hub_indexes": "hubplugins.hub.indexes",
    "hubplugins.hub_start": "hubplugins.hub.started",
    "hubplugins.hub_tables": "hubplugins.hub.tables",
    "hubplugins.identity": "hubplugins.hub.identity",
    "hubplugins.identity_api": "hubplugins.hub.identity_api",
    "hubplugins.identity_rules": "hubplugins.policy.rules.identity",
    "hubplugins.lifecycle.conditions": "hubplugins.policy.rules.as_planned",
    "hubplugins.lifecycle.notices": "hubplugins.policy.rules.notices",
    "hubplugins.lifecycle.sweep": "hubplugins.policy.rules.idle",
    "hubplugins.lifecycle.wiring": "hubplugins.lifecycle.hub_setup",
    "hubplugins.line_restore": "hubplugins.spawner.line_restore",
    "hubplugins.line_store": "hubplugins.spawner.line_store",
    "hubplugins.metrics": "hubplugins.hub.metrics",
    "hubplugins.new_records": "hubplugins.hub.new_records",
    "hubplugins.oauth_clients": "hubplugins.policy.oauth_clients",
    "hubplugins.oidc_rules": "hubplugins.policy.rules.oidc_claims",
    "hubplugins.ownership": "hubplugins.spawner.ownership",
    "hubplugins.plan": "hubplugins.policy.plan",
    "hubplugins.pod_guard": "hubplugins.spawner.pod_guard",
    "hubplugins.pod_holdings": "hubplugins.policy.pod_holdings",
    "hubplugins.pod_hook": "hubplugins.spawner.pod_hook",
    "hubplugins.pod_resources": "hubplugins.policy.rules.pod_resources",
    "hubplugins.policy_checks": "hubplugins.policy.cross_checks",
    "hubplugins.policy_model": "hubplugins.policy.model",
    "hubplugins.policy_schema": "hubplugins.policy.schema",
    "hubplugins.policy_table": "hubplugins.policy.table",
    "hubplugins.pool_sync": "hubplugins.spawner.pool_sync",
    "hubplugins.profile_checks": "hubplugins.policy.profile_overrides",
    "hubplugins.profiles": "hubplugins.policy.rules.profiles",
    "hubplugins.quantities": "hubplugins.policy.quantities",
    "hubplugins.quota_answer": "hubplugins.policy.rules.quota",
    "hubplugins.quota_sync": "hubplugins.spawner.quota_sync",
    "hubplugins.renames": "hubplugins.hub.renames",
    "hubplugins.resources_text": "hubplugins.policy.rules.resources_text",
    "hubplugins.server_names": "hubplugins.policy.rules.server_names",
    "hubplugins.spawn_form": "hubplugins.spawner.form",
    "hubplugins.sshkeys": "hubplugins.spawner.sshkeys",
    "hubplugins.start_checks": "hubplugins.policy.rules.resources",
    "hubplugins.storage": "hubplugins.spawner.storage",
    "hubplugins.usage": "hubplugins.policy.usage_report",
    "hubplugins.usage_api": "hubplugins.spawner.usage_api",
    "hubplugins.usage_cli": "hubplugins.cli.usage_text",
    "hubplugins.usage_store": "hubplugins.hub.usage_store",
    "hubplugins.user_delete": "hubplugins.hub.user_delete",
    "hubplugins.volume_names": "hubplugins.spawner.volume_names",
}


class _Alias(importlib.abc.Loader):
    """Loads an old path as the module at its new one."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.new)
        self.spec, self.loader = module.__spec__, module.__loader__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system set the alias's spec on the module: give back its own
        module.__spec__, module.__loader__ = self.spec, self.loader


class MovedFinder(importlib.abc.MetaPathFinder):
    """Finds the old module paths of :data:`MOVED` and nothing else."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        warnings.warn(
            f"{fullname} is now {new}; import it from there "
            "(the old path will be removed in a later release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedFinder())
