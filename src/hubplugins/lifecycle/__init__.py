"""The lifecycle service: stop idle servers and delete idle named servers by policy.

Run as ``python -m hubplugins.lifecycle`` (a JupyterHub-managed service wired
by :func:`configure`, or by ``hubplugins.setup(c)``). It reads the same policy
table as the spawner and talks to the hub only through its REST API. The rules
it applies are pure and live in :mod:`hubplugins.policy.rules.idle`.

The names below are imported on first use, so that one part (the hub's
endpoint, the service, the CLI) does not import the others.
"""

from __future__ import annotations

from hubplugins._lazy import lazy_names

_LAZY = {
    "HubAPI": "hubplugins.lifecycle.hubapi",
    "HubAPIError": "hubplugins.lifecycle.hubapi",
    "LifecycleService": "hubplugins.lifecycle.service",
    "PolicySource": "hubplugins.lifecycle.service",
    "SweepResult": "hubplugins.lifecycle.service",
    "Action": "hubplugins.policy.rules.idle",
    "Skip": "hubplugins.policy.rules.idle",
    "plan_user": "hubplugins.policy.rules.idle",
    "LIFECYCLE_SCOPES": "hubplugins.lifecycle.hub_setup",
    "HubLifecycle": "hubplugins.lifecycle.hub_setup",
    "configure": "hubplugins.lifecycle.hub_setup",
    "setup_lifecycle": "hubplugins.lifecycle.hub_setup",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_names(__name__, _LAZY)
