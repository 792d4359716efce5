"""A small emulation of how the Zero-to-JupyterHub chart turns values into hub config.

It mirrors the chart's ``jupyterhub/files/hub/jupyterhub_config.py`` (4.x), for
the keys the values files in ``helm-values/`` use, in the chart's order:

1. chart settings: ``singleuser.*`` -> ``c.KubeSpawner.*`` (image, cmd,
   resources, profile list, dynamic storage), ``hub.allowNamedServers`` and
   ``hub.baseUrl``, the hub's bind and connect URLs, and the chart's idle
   culler service with its role when ``cull.enabled``;
2. the ``hub.config`` pass-through: ``c[Section].update(values)`` per section,
   minus the keys the chart refuses to pass through;
3. the ``hub.extraConfig`` snippets, executed in sorted key order with ``c``
   (and the chart's ``get_config``) in scope.

Values are merged the way helm does (:func:`merge_values`): the chart's
``values.yaml`` first, then the site file; mappings merge, lists and scalars
replace, ``null`` removes a key.

Only the standard library is used: the hub process loads this file by path
(see :func:`config_text`) and runs :func:`apply_values` on its own ``c``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["apply_values", "config_text", "get_value", "merge_values"]

# hub.config keys the chart drops before the pass-through (secrets it manages)
_DROPPED = {
    "JupyterHub": ("proxy_auth_token", "cookie_secret", "services"),
    "ConfigurableHTTPProxy": ("auth_token",),
    "CryptKeeper": ("keys",),
}

# (KubeSpawner trait, key below ``singleuser``); None means the camelCase of the trait
_SINGLEUSER_TRAITS: tuple[tuple[str, str | None], ...] = (
    ("start_timeout", None),
    ("image_pull_policy", "image.pullPolicy"),
    ("events_enabled", "events"),
    ("extra_labels", None),
    ("extra_annotations", None),
    ("uid", None),
    ("fs_gid", None),
    ("service_account", "serviceAccountName"),
    ("storage_extra_labels", "storage.extraLabels"),
    ("node_selector", None),
    ("mem_limit", "memory.limit"),
    ("mem_guarantee", "memory.guarantee"),
    ("cpu_limit", "cpu.limit"),
    ("cpu_guarantee", "cpu.guarantee"),
    ("extra_resource_limits", "extraResource.limits"),
    ("extra_resource_guarantees", "extraResource.guarantees"),
    ("environment", "extraEnv"),
    ("profile_list", None),
    ("extra_pod_config", None),
)


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged over ``base`` the way helm merges ``--values`` files."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def get_value(values: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """The chart's ``z2jh.get_config``: a dotted key of the values, or ``default``."""
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return default if node is None else node


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def _set_if_not_none(section: Any, trait: str, values: Mapping[str, Any], key: str) -> None:
    value = get_value(values, key)
    if value is not None:
        setattr(section, trait, value)


def _hub_urls(c: Any) -> int:
    """The chart's hub URLs; returns the hub's port in the pod.

    The chart binds every address of the pod on port 8081 and gives the
    ``hub`` Service as the connect URL; here the test hub's own port stands
    for 8081 and 127.0.0.1 for the Service.
    """
    port = int(c.JupyterHub.hub_port) if "hub_port" in c.JupyterHub else 8081
    c.JupyterHub.hub_bind_url = f"http://:{port}"
    c.JupyterHub.hub_connect_url = f"http://127.0.0.1:{port}"
    return port


def _culler(c: Any, values: Mapping[str, Any], port: int) -> None:
    """The chart's ``jupyterhub-idle-culler`` service and role, from ``cull.*``.

    The chart starts from empty ``services`` and ``load_roles``; the
    emulation keeps what the test hub's base config put there.
    """
    if not get_value(values, "cull.enabled", False):
        return
    scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
    base_url = c.JupyterHub.base_url if "base_url" in c.JupyterHub else "/"
    api = "/" + "/".join(p for p in (*base_url.split("/"), "hub", "api") if p)
    command = ["python3", "-m", "jupyterhub_idle_culler", f"--url=http://localhost:{port}{api}"]
    for key, flag in (("timeout", "--timeout"), ("every", "--cull-every")):
        if get_value(values, f"cull.{key}"):
            command.append(f"{flag}={get_value(values, f'cull.{key}')}")
    if get_value(values, "cull.concurrency"):
        command.append(f"--concurrency={get_value(values, 'cull.concurrency')}")
    if get_value(values, "cull.users"):
        command.append("--cull-users")
        scopes.append("admin:users")
    if not get_value(values, "cull.adminUsers"):
        command.append("--cull-admin-users=false")
    if get_value(values, "cull.removeNamedServers"):
        command.append("--remove-named-servers")
    if get_value(values, "cull.maxAge"):
        command.append(f"--max-age={get_value(values, 'cull.maxAge')}")
    name = "jupyterhub-idle-culler"
    services = list(c.JupyterHub.services) if "services" in c.JupyterHub else []
    roles = list(c.JupyterHub.load_roles) if "load_roles" in c.JupyterHub else []
    c.JupyterHub.services = [*services, {"name": name, "command": command}]
    c.JupyterHub.load_roles = [*roles, {"name": name, "scopes": scopes, "services": [name]}]


def _chart_settings(c: Any, values: Mapping[str, Any]) -> None:
    _set_if_not_none(c.JupyterHub, "base_url", values, "hub.baseUrl")
    _set_if_not_none(c.JupyterHub, "allow_named_servers", values, "hub.allowNamedServers")
    _set_if_not_none(
        c.JupyterHub, "named_server_limit_per_user", values, "hub.namedServerLimitPerUser"
    )
    for trait, key in _SINGLEUSER_TRAITS:
        _set_if_not_none(c.KubeSpawner, trait, values, "singleuser." + (key or _camel(trait)))
    image = get_value(values, "singleuser.image.name")
    if image:
        tag = get_value(values, "singleuser.image.tag")
        c.KubeSpawner.image = f"{image}:{tag}" if tag else image
    _set_if_not_none(c.Spawner, "cmd", values, "singleuser.cmd")
    _set_if_not_none(c.Spawner, "default_url", values, "singleuser.defaultUrl")

    if get_value(values, "singleuser.storage.type") == "dynamic":
        pvc_name_template = get_value(values, "singleuser.storage.dynamic.pvcNameTemplate")
        if pvc_name_template:
            c.KubeSpawner.pvc_name_template = pvc_name_template
        volume_name = get_value(values, "singleuser.storage.dynamic.volumeNameTemplate")
        c.KubeSpawner.storage_pvc_ensure = True
        for trait, key in (
            ("storage_class", "dynamic.storageClass"),
            ("storage_access_modes", "dynamic.storageAccessModes"),
            ("storage_capacity", "capacity"),
        ):
            _set_if_not_none(c.KubeSpawner, trait, values, "singleuser.storage." + key)
        mount: dict[str, Any] = {
            "mountPath": get_value(values, "singleuser.storage.homeMountPath"),
            "name": volume_name,
        }
        sub_path = get_value(values, "singleuser.storage.dynamic.subPath")
        if sub_path:
            mount["subPath"] = sub_path
        c.KubeSpawner.volumes = [
            {"name": volume_name, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
        ]
        c.KubeSpawner.volume_mounts = [mount]
    _culler(c, values, _hub_urls(c))


def _pass_through(c: Any, values: Mapping[str, Any]) -> None:
    for section, settings in (get_value(values, "hub.config", {}) or {}).items():
        settings = dict(settings)
        for key in _DROPPED.get(section, ()):
            settings.pop(key, None)
        c[section].update(settings)


def _extra_config(c: Any, values: Mapping[str, Any]) -> None:
    snippets = get_value(values, "hub.extraConfig", {}) or {}
    for key in sorted(snippets):
        scope = {"c": c, "get_config": lambda k, d=None: get_value(values, k, d)}
        exec(compile(snippets[key], f"<hub.extraConfig.{key}>", "exec"), scope)


def apply_values(c: Any, values: Mapping[str, Any]) -> None:
    """Set ``c`` from merged chart ``values`` in the chart's order (see the module doc)."""
    _chart_settings(c, values)
    _pass_through(c, values)
    _extra_config(c, values)


def config_text(values: Mapping[str, Any]) -> str:
    """``jupyterhub_config.py`` lines that apply ``values`` in a hub process."""
    here = str(Path(__file__).resolve())
    return (
        "import importlib.util as _ilu, json as _json\n"
        f"_spec = _ilu.spec_from_file_location('hubplugins_chart_config', {here!r})\n"
        "_chart = _ilu.module_from_spec(_spec)\n"
        "_spec.loader.exec_module(_chart)\n"
        f"_chart.apply_values(c, _json.loads({json.dumps(values)!r}))\n"
    )
