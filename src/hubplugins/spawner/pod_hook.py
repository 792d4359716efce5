"""The configured ``modify_pod_hook``, run once per start.

The pod is checked against the grant before anything is created
(:func:`hubplugins.spawner.pod_guard.check_before_start`), so the hook runs there, on
the pod as KubeSpawner builds it. KubeSpawner builds the pod again right
before creating it and calls the hook chain again; when that pod is the
same as the one the hook was given (nothing changed in between), the
hook's result from the check is used and the hook is not called a second
time. When it differs (KubeSpawner took a legacy-named volume, or the
volume's name moved to ``<name>-2`` because another account has it), the
hook runs on the new pod; the pod actually sent is checked either way.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.utils import maybe_future

from hubplugins.policy.rules.pod_resources import plain

_ATTR = "_hubplugins_hooked_pod"


def body(spawner: Any, pod: Any) -> Any:
    """The JSON the API server receives for ``pod``."""
    client = getattr(getattr(spawner, "api", None), "api_client", None)
    if client is not None:
        return client.sanitize_for_serialization(pod)
    return plain(pod)


async def run_for_check(spawner: Any, hook: Any, pod: Any) -> Any:
    """Run ``hook`` on ``pod`` for the check, keeping the result for the start."""
    built = body(spawner, pod)  # before the hook: it may change the pod in place
    result = await maybe_future(hook(spawner, pod))
    setattr(spawner, _ATTR, (built, result))
    return result


def forget(spawner: Any) -> None:
    """No kept result (a start without a configured hook)."""
    setattr(spawner, _ATTR, None)


async def run_for_start(spawner: Any, hook: Any, pod: Any) -> Any:
    """The hook's result for the pod to be created: kept from the check when it is the same pod."""
    kept = getattr(spawner, _ATTR, None)
    setattr(spawner, _ATTR, None)  # used once
    if kept is not None and kept[0] == body(spawner, pod):
        return kept[1]
    return await maybe_future(hook(spawner, pod))
