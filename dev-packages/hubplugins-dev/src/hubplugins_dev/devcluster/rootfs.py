"""A pod's filesystem: a root directory whose volume mounts are symlinks to real dirs."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

Lookup = Callable[[str, str], dict[str, Any] | None]  # (resource, name) -> object


class MountError(Exception):
    """A volume cannot be set up (a missing secret, say); the pod does not start."""


@dataclass
class PodFS:
    pod_dir: Path
    rootfs: Path
    nested_links: list[Path] = field(default_factory=list)
    hidden: list[tuple[Path, Path]] = field(default_factory=list)

    @property
    def log_path(self) -> Path:
        return self.pod_dir / "log"

    def host_path(self, container_path: str) -> Path:
        return self.rootfs / container_path.lstrip("/")


def _write_files(
    target: Path, entries: dict[str, bytes], items: list[dict[str, Any]] | None, mode: int
) -> None:
    target.mkdir(parents=True, exist_ok=True)
    chosen = (
        [(item["key"], item.get("path") or item["key"], item.get("mode")) for item in items]
        if items
        else [(key, key, None) for key in entries]
    )
    for key, rel, item_mode in chosen:
        if key not in entries:
            raise MountError(f"couldn't find key {key} in the volume source")
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(entries[key])
        path.chmod((item_mode if item_mode is not None else mode) & ~0o222)
    for dirpath, _, _ in os.walk(target):
        Path(dirpath).chmod(0o555)


def _materialize(volume: dict[str, Any], target: Path, lookup: Lookup) -> None:
    if "secret" in volume:
        src = volume["secret"] or {}
        obj = lookup("secrets", src.get("secretName", ""))
        if obj is None and not src.get("optional"):
            raise MountError(f'secret "{src.get("secretName")}" not found')
        data = {k: base64.b64decode(v or "") for k, v in ((obj or {}).get("data") or {}).items()}
    else:
        src = volume["configMap"] or {}
        obj = lookup("configmaps", src.get("name", ""))
        if obj is None and not src.get("optional"):
            raise MountError(f'configmap "{src.get("name")}" not found')
        data = {k: str(v).encode() for k, v in ((obj or {}).get("data") or {}).items()}
        for k, v in ((obj or {}).get("binaryData") or {}).items():
            data[k] = base64.b64decode(v or "")
    _write_files(target, data, src.get("items"), src.get("defaultMode", 0o644))


def _place_link(link: Path, target: Path, fs: PodFS, tag: str, nested: bool) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    elif link.is_dir() and not any(link.iterdir()):
        link.rmdir()
    elif link.exists():
        aside = link.with_name(f"{link.name}.devcluster-hidden-{tag}")
        link.rename(aside)
        fs.hidden.append((aside, link))
    link.symlink_to(target, target_is_directory=True)
    if nested:
        fs.nested_links.append(link)


def prepare(
    root: Path,
    pod: dict[str, Any],
    lookup: Lookup,
    claim_path: Callable[[str], Path],
) -> PodFS:
    """Create the pod's dirs and one symlink per volumeMount of its first container."""
    meta = pod["metadata"]
    tag = meta["uid"][:8]
    pod_dir = root / "pods" / meta["namespace"] / f"{meta['name']}-{tag}"
    fs = PodFS(pod_dir=pod_dir, rootfs=pod_dir / "rootfs")
    fs.rootfs.mkdir(parents=True, exist_ok=True)
    spec = pod["spec"]
    backing: dict[str, Path] = {}
    for volume in spec.get("volumes") or []:
        name = volume["name"]
        if "persistentVolumeClaim" in volume:
            backing[name] = claim_path(volume["persistentVolumeClaim"]["claimName"])
            backing[name].mkdir(parents=True, exist_ok=True)
            continue
        backing[name] = pod_dir / "volumes" / name
        if "secret" in volume or "configMap" in volume:
            _materialize(volume, backing[name], lookup)
        else:  # emptyDir and anything else: a fresh directory of the pod's own
            backing[name].mkdir(parents=True, exist_ok=True)
    mounts = (spec.get("containers") or [{}])[0].get("volumeMounts") or []
    placed: list[tuple[PurePosixPath, Path]] = []  # (mountPath, its backing dir)
    for mount in sorted(mounts, key=lambda m: len(PurePosixPath(m["mountPath"]).parts)):
        mount_path = PurePosixPath(mount["mountPath"])
        target = backing[mount["name"]]
        if mount.get("subPath"):
            target = target / mount["subPath"]
            target.mkdir(parents=True, exist_ok=True)
        parent = None
        for placed_path, placed_dir in placed:
            if mount_path != placed_path and mount_path.is_relative_to(placed_path):
                if parent is None or len(placed_path.parts) > len(parent[0].parts):
                    parent = (placed_path, placed_dir)
        if parent is not None:
            link = parent[1] / mount_path.relative_to(parent[0])
        else:
            link = fs.host_path(str(mount_path))
        _place_link(link, target, fs, tag, nested=parent is not None)
        placed.append((mount_path, target))
    return fs


def release_mounts(fs: PodFS) -> None:
    """Undo what the pod placed inside volumes that outlive it."""
    for link in reversed(fs.nested_links):
        if link.is_symlink():
            link.unlink()
    fs.nested_links.clear()
    for aside, original in reversed(fs.hidden):
        if aside.exists() and not original.exists() and not original.is_symlink():
            aside.rename(original)
    fs.hidden.clear()


def remove(fs: PodFS) -> None:
    """Remove the pod's own directory (its rootfs holds only links into volumes)."""
    release_mounts(fs)
    if not fs.pod_dir.exists():
        return
    for dirpath, dirnames, _ in os.walk(fs.pod_dir):
        for d in dirnames:
            p = Path(dirpath) / d
            if not p.is_symlink():
                p.chmod(0o755)
    shutil.rmtree(fs.pod_dir, ignore_errors=True)
