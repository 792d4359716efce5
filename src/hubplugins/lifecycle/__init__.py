"""The lifecycle service: stop idle servers and delete idle named servers by policy.

Run as ``python -m hubplugins.lifecycle`` (a JupyterHub-managed service wired
by :func:`configure`, or by ``hubplugins.setup(c)``). It reads the same policy
table as the spawner and talks to the hub only through its REST API.
"""

from __future__ import annotations

from .hubapi import HubAPI, HubAPIError
from .service import LifecycleService, PolicySource, SweepResult
from .sweep import Action, Skip, plan_user
from .wiring import LIFECYCLE_SCOPES, HubLifecycle, configure, setup_lifecycle

__all__ = [
    "LIFECYCLE_SCOPES",
    "Action",
    "HubAPI",
    "HubAPIError",
    "HubLifecycle",
    "LifecycleService",
    "PolicySource",
    "Skip",
    "SweepResult",
    "configure",
    "plan_user",
    "setup_lifecycle",
]
