"""How the kubelet turns a container spec into a local command, environment and cwd."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .rootfs import PodFS

DEFAULT_HOME = "/home/jovyan"
Lookup = Callable[[str, str], dict[str, Any] | None]


class LaunchError(Exception):
    """The container cannot start; ``reason`` is the Kubernetes waiting/terminated reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: str


def _env_value(item: dict[str, Any], pod: dict[str, Any], lookup: Lookup) -> str | None:
    if "value" in item:
        return str(item["value"] or "")
    source = item.get("valueFrom") or {}
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        secret = lookup("secrets", ref.get("name", ""))
        data = (secret or {}).get("data") or {}
        if ref.get("key") not in data:
            if ref.get("optional"):
                return None
            raise LaunchError(
                "CreateContainerConfigError",
                f'secret "{ref.get("name")}" not found'
                if secret is None
                else f"couldn't find key {ref.get('key')} in Secret {ref.get('name')}",
            )
        return base64.b64decode(data[ref["key"]]).decode()
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        data = (lookup("configmaps", ref.get("name", "")) or {}).get("data") or {}
        if ref.get("key") not in data:
            if ref.get("optional"):
                return None
            raise LaunchError(
                "CreateContainerConfigError", f'configmap "{ref.get("name")}" key not found'
            )
        return str(data[ref["key"]])
    if "fieldRef" in source:
        path = source["fieldRef"].get("fieldPath", "")
        fields = {
            "metadata.name": pod["metadata"]["name"],
            "metadata.namespace": pod["metadata"]["namespace"],
            "metadata.uid": pod["metadata"]["uid"],
            "spec.nodeName": pod["spec"].get("nodeName", ""),
            "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
            "status.podIP": pod["status"].get("podIP", ""),
            "status.hostIP": pod["status"].get("hostIP", ""),
        }
        return str(fields.get(path, ""))
    return ""


def build_launch(
    pod: dict[str, Any],
    fs: PodFS,
    lookup: Lookup,
    kubelet_path: str,
    jupyter_config_dir: str | None,
) -> Launch:
    """The argv, environment and working directory for the pod's first container."""
    container = pod["spec"]["containers"][0]
    ip = pod["status"]["podIP"]
    env: dict[str, str] = {"PATH": kubelet_path}
    if "LANG" in os.environ:
        env["LANG"] = os.environ["LANG"]
    for item in container.get("env") or []:
        value = _env_value(item, pod, lookup)
        if value is not None:
            env[item["name"]] = value.replace("0.0.0.0", ip)
    env["PATH"] = kubelet_path
    home = env.get("HOME") or DEFAULT_HOME
    env["HOME"] = str(fs.host_path(home))
    if jupyter_config_dir:
        existing = env.get("JUPYTER_CONFIG_PATH")
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [jupyter_config_dir, existing]))
    cwd = (
        fs.host_path(container["workingDir"]) if container.get("workingDir") else fs.host_path(home)
    )
    cwd.mkdir(parents=True, exist_ok=True)
    argv = [str(a).replace("0.0.0.0", ip) for a in (container.get("command") or [])]
    argv += [str(a).replace("0.0.0.0", ip) for a in (container.get("args") or [])]
    if not argv:
        raise LaunchError("StartError", "no command specified (images are not run)")
    resolved = shutil.which(argv[0], path=kubelet_path) if "/" not in argv[0] else argv[0]
    if resolved is None:
        raise LaunchError(
            "StartError",
            f'exec: "{argv[0]}": executable file not found in $PATH',
        )
    argv[0] = resolved
    return Launch(argv=argv, env=env, cwd=str(cwd))
