"""Objects checked against the official Kubernetes OpenAPI schemas, as the API server decodes.

The schemas are the ones kubernetes-validate ships (generated from each
Kubernetes release's OpenAPI document; the ``-strict`` variant forbids
properties the schema does not name). An object is checked against every
version in :data:`DEFAULT_VERSIONS` unless told otherwise: the oldest the
Zero-to-JupyterHub chart 4.x supports (``kubeVersion: ">=1.28.0-0"``) and the
newest shipped, so that what one supported cluster refuses, or drops, the
devcluster refuses or drops too.

What the API server does, and this does:

- a value of the wrong type is a decoding error: 400 ``BadRequest``,
  ``Pod in version "v1" cannot be handled as a Pod: ...``;
- a field the schema of some checked version does not know is an unknown
  field, handled as the request's ``fieldValidation`` asks: ``Warn`` (the
  default since Kubernetes 1.27) drops it and answers with a
  ``Warning: 299 - "unknown field \\"spec.foo\\""`` header; ``Ignore`` drops it
  silently; ``Strict`` refuses the request with 400, ``strict decoding error:
  unknown field "spec.foo"``;
- a required field that is missing is a validation error (422 ``Invalid``,
  ``Required value``), reported with the semantic checks of ``validation.py``.

Cost: a valid object is checked by validators that fastjsonschema generates
from the schemas, kept per (version, kind) in the process and, compiled, in a
cache directory (``$XDG_CACHE_HOME/hubplugins-dev``), so that only the first
devcluster on a machine pays for generating them. Only an object that fails
is checked again, by jsonschema, which names every problem. The schema files
are read from kubernetes-validate's package data without importing it (its
import, like jsonschema's, costs seconds of a devcluster's start).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import marshal
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema
from packaging.version import Version

from .errors import ApiError

if TYPE_CHECKING:
    import jsonschema

OLDEST_SUPPORTED = "1.28"
FIELD_VALIDATION = ("Ignore", "Warn", "Strict")
# keywords that do not change what is valid here; dropped to keep generated code small
_IGNORED_KEYWORDS = {"description", "format", "default", "$schema", "$id", "readOnly"}
_TRANSFORM = "1"  # bump when _self_contained changes: the cached code is keyed by it


def _schemas_dir() -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")  # found, not imported
    assert spec is not None and spec.submodule_search_locations, "kubernetes-validate is missing"
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


SCHEMAS = _schemas_dir()
SCHEMAS_VERSION = importlib.metadata.version("kubernetes-validate")


def supported_versions() -> list[str]:
    """Every schema version shipped that the chart supports, oldest first."""
    names = (re.fullmatch(r"v([\d.]+)-local", d.name) for d in SCHEMAS.iterdir())
    found = {m.group(1) for m in names if m}
    wanted = Version(OLDEST_SUPPORTED)
    return sorted((v for v in found if Version(v) >= wanted), key=Version)


def _default_versions() -> tuple[str, ...]:
    versions = supported_versions()
    return tuple(dict.fromkeys((versions[0], versions[-1])))


DEFAULT_VERSIONS = _default_versions()

Causes = list[tuple[str, str]]


@dataclass
class Decoding:
    """What one request asks for unknown fields, and the warnings it is answered with."""

    field_validation: str = "Warn"
    warnings: list[str] = field(default_factory=list)


@dataclass
class Checked:
    """What checking one object found, once its unknown fields are dropped."""

    warnings: list[str] = field(default_factory=list)
    causes: Causes = field(default_factory=list)  # 422 causes: (field, message)


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _strip(v)
            for k, v in node.items()
            if k not in _IGNORED_KEYWORDS and not k.startswith("x-kubernetes")
        }
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


@functools.cache
def _self_contained(version: str, kind: str) -> dict[str, Any]:
    """The kind's strict schema with the definitions it reaches, in one document."""
    base = SCHEMAS / f"v{version}-local-strict"
    schema = json.loads((base / f"{kind.lower()}-v1.json").read_text(encoding="utf-8"))
    definitions = json.loads((base / "_definitions.json").read_text(encoding="utf-8"))["$defs"]
    text = json.dumps(schema).replace('"/api/_definitions.json#/$defs/', '"#/$defs/')
    root = _strip(json.loads(text))
    reached: dict[str, Any] = {}
    todo = [root]
    while todo:
        for name in _refs(todo.pop()):
            if name not in reached:
                reached[name] = _strip(definitions[name])
                todo.append(reached[name])
    root["$defs"] = reached
    return root


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            yield ref[len("#/$defs/") :]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _cache_dir() -> Path:
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home) / "hubplugins-dev" / "schemas"


@functools.cache
def _fast(version: str, kind: str) -> Callable[[Any], Any]:
    """A fastjsonschema validator; its compiled code is kept on disk."""
    key = (
        "-".join((kind, version, SCHEMAS_VERSION, fastjsonschema.VERSION, _TRANSFORM))
        + importlib.util.MAGIC_NUMBER.hex()
    )
    name = "k8s_" + hashlib.sha256(key.encode()).hexdigest()[:24]
    path = _cache_dir() / f"{name}.bin"
    try:
        code = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        source = fastjsonschema.compile_to_code(_self_contained(version, kind))
        code = compile(source, name, "exec")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False) as out:
                out.write(marshal.dumps(code))
            os.replace(out.name, path)
        except OSError:
            pass  # no writable cache: generated again by the next devcluster
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    return namespace["validate"]  # type: ignore[no-any-return]


@functools.cache
def _full(version: str, kind: str) -> jsonschema.protocols.Validator:
    """A jsonschema validator of the same document, to name every problem."""
    import jsonschema  # only when an object fails: its import is slow

    return jsonschema.Draft7Validator(_self_contained(version, kind))


def _passes(version: str, kind: str, obj: dict[str, Any]) -> bool:
    try:
        _fast(version, kind)(obj)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _unknown(error: jsonschema.ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [(tuple(error.absolute_path), key) for key in instance if key not in known]


def _drop(obj: Any, path: Sequence[Any], key: str) -> None:
    for part in path:
        try:
            obj = obj[part]
        except (KeyError, IndexError, TypeError):
            return  # under a field dropped already
    if isinstance(obj, dict):
        obj.pop(key, None)


def _outermost(unknown: dict[str, tuple[tuple[Any, ...], str]]) -> list[str]:
    """Unknown fields not inside another unknown field (a newer version's field's own)."""
    keys = {(*path, key) for path, key in unknown.values()}
    return [
        name
        for name, (path, key) in unknown.items()
        if not any(tuple(path[:i]) in keys for i in range(1, len(path) + 1))
    ]


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The errors under a ``oneOf``/``anyOf`` a reader can act on: the deepest ones."""
    if not error.context:
        return [error]
    return [leaf for sub in error.context for leaf in _leaves(sub)]


def check(
    kind: str,
    obj: dict[str, Any],
    field_validation: str = "Warn",
    versions: Sequence[str] = DEFAULT_VERSIONS,
) -> Checked:
    """Check ``obj`` (a ``kind`` of core/v1) in place; drop its unknown fields.

    Raises a 400 ``ApiError`` for a decoding error or, under ``Strict``, for
    an unknown field; returns the warnings to send and the 422 causes.
    """
    if field_validation not in FIELD_VALIDATION:
        raise ApiError(
            400,
            f'fieldValidation: Unsupported value: "{field_validation}": supported values:'
            ' "Ignore", "Strict", "Warn"',
            reason="BadRequest",
        )
    if all(_passes(version, kind, obj) for version in versions):
        return Checked()
    unknown: dict[str, tuple[tuple[Any, ...], str]] = {}
    decoding: dict[str, str] = {}
    causes: dict[str, str] = {}
    for version in versions:
        for error in _full(version, kind).iter_errors(obj):
            if error.validator == "additionalProperties":
                for path, key in _unknown(error):
                    unknown.setdefault(_path((*path, key)), (path, key))
                continue
            where = _path(error.absolute_path) or "<root>"
            if error.validator == "required":
                missing = [k for k in error.validator_value if k not in (error.instance or {})]
                for key in missing:
                    causes.setdefault(_path((*error.absolute_path, key)), "Required value")
            elif error.validator == "enum":
                allowed = ", ".join(f'"{v}"' for v in error.validator_value if v is not None)
                causes.setdefault(
                    where,
                    f"Unsupported value: {jsonschema_repr(error.instance)}: supported values:"
                    f" {allowed}",
                )
            else:
                leaf = _leaves(error)[0]
                decoding.setdefault(where, leaf.message)
    what = f'{kind} in version "v1" cannot be handled as a {kind}'
    if decoding:
        text = "; ".join(f"{where}: {message}" for where, message in decoding.items())
        raise ApiError(400, f"{what}: {text}", reason="BadRequest")
    if unknown and field_validation == "Strict":
        text = ", ".join(f'unknown field "{name}"' for name in _outermost(unknown))
        raise ApiError(400, f"{what}: strict decoding error: {text}", reason="BadRequest")
    names = _outermost(unknown)
    for name in names:
        _drop(obj, *unknown[name])
    warnings = [] if field_validation == "Ignore" else [f'unknown field "{n}"' for n in names]
    return Checked(warnings, list(causes.items()))


def jsonschema_repr(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def warning_header(message: str) -> str:
    """The ``Warning`` header value the API server sends (RFC 7234, code 299)."""
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'
