"""Validation of created and replaced objects, with the messages a real API server gives."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from .errors import invalid
from .quantity import parse_quantity

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

KINDS = {
    "namespaces": "Namespace",
    "pods": "Pod",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "services": "Service",
    "secrets": "Secret",
    "configmaps": "ConfigMap",
    "events": "Event",
    "resourcequotas": "ResourceQuota",
}

Causes = list[tuple[str, str]]


def _name_errors(value: str, max_length: int, pattern: re.Pattern[str], rule: str) -> list[str]:
    errors = []
    if len(value) > max_length:
        errors.append(f"must be no more than {max_length} characters")
    if not pattern.match(value):
        errors.append(rule)
    return errors


def dns1123_subdomain_errors(value: str) -> list[str]:
    return _name_errors(
        value,
        253,
        _DNS1123_SUBDOMAIN,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters,"
        " '-' or '.', and must start and end with an alphanumeric character",
    )


def dns1123_label_errors(value: str) -> list[str]:
    return _name_errors(
        value,
        63,
        _DNS1123_LABEL,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters"
        " or '-', and must start and end with an alphanumeric character",
    )


def dns1035_label_errors(value: str) -> list[str]:
    return _name_errors(
        value,
        63,
        _DNS1035_LABEL,
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-',"
        " start with an alphabetic character, and end with an alphanumeric character",
    )


NAME_RULES = {
    "namespaces": dns1123_label_errors,
    "services": dns1035_label_errors,
    "events": dns1123_subdomain_errors,
}


def name_errors(resource: str, name: str) -> list[str]:
    return NAME_RULES.get(resource, dns1123_subdomain_errors)(name)


def _qualified_name_errors(key: str) -> list[str]:
    prefix, slash, name = key.rpartition("/")
    errors = []
    if slash:
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors += [f"prefix part {e}" for e in dns1123_subdomain_errors(prefix)]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    elif not _QUALIFIED_NAME.match(name):
        errors.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must"
            " start and end with an alphanumeric character"
        )
    return errors


def _label_value_errors(value: Any) -> list[str]:
    if not isinstance(value, str):
        return ["must be a string"]
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _LABEL_VALUE.match(value):
        errors.append(
            "a valid label must be an empty string or consist of alphanumeric characters,"
            " '-', '_' or '.', and must start and end with an alphanumeric character"
        )
    return errors


def _metadata_causes(resource: str, meta: dict[str, Any]) -> Causes:
    causes: Causes = []
    name = meta.get("name")
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    else:
        causes += [
            ("metadata.name", f'Invalid value: "{name}": {e}') for e in name_errors(resource, name)
        ]
    for key, value in (meta.get("labels") or {}).items():
        causes += [
            ("metadata.labels", f'Invalid value: "{key}": {e}') for e in _qualified_name_errors(key)
        ]
        causes += [
            ("metadata.labels", f'Invalid value: "{value}": {e}')
            for e in _label_value_errors(value)
        ]
    for key in meta.get("annotations") or {}:
        causes += [
            ("metadata.annotations", f'Invalid value: "{key}": {e}')
            for e in _qualified_name_errors(key)
        ]
    return causes


def _quantity_causes(path: str, resources: dict[str, Any] | None) -> Causes:
    causes: Causes = []
    parsed: dict[str, dict[str, Any]] = {}
    for section in ("requests", "limits"):
        for rname, amount in ((resources or {}).get(section) or {}).items():
            field = f"{path}.{section}[{rname}]"
            try:
                value = parse_quantity(amount)
            except ValueError as e:
                causes.append((field, f'Invalid value: "{amount}": {e}'))
                continue
            if value < 0:
                causes.append(
                    (field, f'Invalid value: "{amount}": must be greater than or equal to 0')
                )
            parsed.setdefault(section, {})[rname] = value
    for rname, request in parsed.get("requests", {}).items():
        limit = parsed.get("limits", {}).get(rname)
        if limit is not None and request > limit:
            causes.append(
                (
                    f"{path}.requests",
                    f'Invalid value: "{request}": must be less than or equal to {rname} limit'
                    f" of {limit}",
                )
            )
    return causes


def _pod_causes(pod: dict[str, Any]) -> Causes:
    spec = pod.get("spec") or {}
    causes: Causes = []
    volumes = spec.get("volumes") or []
    volume_names = set()
    for i, vol in enumerate(volumes):
        vname = vol.get("name") or ""
        for e in dns1123_label_errors(vname):
            causes.append((f"spec.volumes[{i}].name", f'Invalid value: "{vname}": {e}'))
        if vname in volume_names:
            causes.append((f"spec.volumes[{i}].name", f'Duplicate value: "{vname}"'))
        volume_names.add(vname)
        claim = vol.get("persistentVolumeClaim")
        if claim is not None and not claim.get("claimName"):
            causes.append((f"spec.volumes[{i}].persistentVolumeClaim.claimName", "Required value"))
    containers = spec.get("containers") or []
    if not containers:
        causes.append(("spec.containers", "Required value"))
    for group in ("initContainers", "containers"):
        for i, ctr in enumerate(spec.get(group) or []):
            path = f"spec.{group}[{i}]"
            cname = ctr.get("name") or ""
            for e in dns1123_label_errors(cname):
                causes.append((f"{path}.name", f'Invalid value: "{cname}": {e}'))
            if not ctr.get("image"):
                causes.append((f"{path}.image", "Required value"))
            causes += _quantity_causes(f"{path}.resources", ctr.get("resources"))
            mount_paths = set()
            for j, mount in enumerate(ctr.get("volumeMounts") or []):
                if mount.get("name") not in volume_names:
                    causes.append(
                        (f"{path}.volumeMounts[{j}].name", f'Not found: "{mount.get("name")}"')
                    )
                mpath = mount.get("mountPath") or ""
                if not mpath:
                    causes.append((f"{path}.volumeMounts[{j}].mountPath", "Required value"))
                elif mpath in mount_paths:
                    causes.append(
                        (
                            f"{path}.volumeMounts[{j}].mountPath",
                            f'Invalid value: "{mpath}": must be unique',
                        )
                    )
                mount_paths.add(mpath)
                if ".." in (mount.get("subPath") or "").split("/"):
                    causes.append(
                        (
                            f"{path}.volumeMounts[{j}].subPath",
                            "Invalid value: must not contain '..'",
                        )
                    )
    return causes


def _pvc_causes(pvc: dict[str, Any]) -> Causes:
    spec = pvc.get("spec") or {}
    causes: Causes = []
    if not spec.get("accessModes"):
        causes.append(("spec.accessModes", "Required value: at least 1 access mode is required"))
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        causes.append(("spec.resources[storage]", "Required value"))
    causes += _quantity_causes("spec.resources", spec.get("resources"))
    return causes


def _data_causes(obj: dict[str, Any], base64_values: bool) -> Causes:
    causes: Causes = []
    for section in ("data", "stringData", "binaryData"):
        for key, value in (obj.get(section) or {}).items():
            if not _CONFIG_KEY.match(key) or len(key) > 253:
                causes.append(
                    (
                        f"{section}[{key}]",
                        f'Invalid value: "{key}": a valid config key must consist'
                        " of alphanumeric characters, '-', '_' or '.'",
                    )
                )
            if (base64_values and section == "data") or section == "binaryData":
                try:
                    base64.b64decode(value or "", validate=True)
                except (binascii.Error, TypeError):
                    causes.append((f"{section}[{key}]", "Invalid value: illegal base64 data"))
    return causes


def _service_causes(svc: dict[str, Any]) -> Causes:
    causes: Causes = []
    for i, port in enumerate((svc.get("spec") or {}).get("ports") or []):
        number = port.get("port")
        if not isinstance(number, int) or not 0 < number < 65536:
            causes.append(
                (
                    f"spec.ports[{i}].port",
                    f"Invalid value: {number}: must be between 1 and 65535, inclusive",
                )
            )
    return causes


def _quota_causes(quota: dict[str, Any]) -> Causes:
    causes: Causes = []
    for rname, amount in ((quota.get("spec") or {}).get("hard") or {}).items():
        try:
            value = parse_quantity(amount)
        except ValueError as e:
            causes.append((f"spec.hard[{rname}]", f'Invalid value: "{amount}": {e}'))
            continue
        if value < 0:
            causes.append(
                (
                    f"spec.hard[{rname}]",
                    f'Invalid value: "{amount}": must be greater than or equal to 0',
                )
            )
    return causes


def validate(resource: str, obj: dict[str, Any], schema_causes: Causes | None = None) -> None:
    """Raise a 422 ``Invalid`` ApiError naming each bad field of ``obj``.

    ``schema_causes``: what the OpenAPI schema check found (``schema.py``),
    reported first, each field once.
    """
    meta = obj.get("metadata") or {}
    causes = list(schema_causes or [])
    causes += [c for c in _metadata_causes(resource, meta) if c[0] not in dict(causes)]
    if resource == "pods":
        causes += _pod_causes(obj)
    elif resource == "persistentvolumeclaims":
        causes += _pvc_causes(obj)
    elif resource == "secrets":
        causes += _data_causes(obj, base64_values=True)
    elif resource == "configmaps":
        causes += _data_causes(obj, base64_values=False)
    elif resource == "services":
        causes += _service_causes(obj)
    elif resource == "resourcequotas":
        causes += _quota_causes(obj)
    elif resource == "events" and not obj.get("involvedObject"):
        causes.append(("involvedObject", "Required value"))
    if causes:
        raise invalid(KINDS[resource], meta.get("name") or "", causes)
