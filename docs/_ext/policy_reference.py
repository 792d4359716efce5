"""Sphinx extension: the policy table reference, rendered from the JSON Schema.

``{policy-schema}`` (a directive, no arguments) renders one table row per key
of a policy section (``defaults`` and every group share it): the key path, what
it takes (from the schema's types, ``x-kind`` annotations, enums and ranges),
the built-in default, how groups merge it, and what it means. ``{policy-cluster}``
renders the ``cluster`` section the same way.

The keys and their types come from :mod:`hubplugins.policy.schema` at build
time, so a key added to the schema appears here without editing a page. What a
key means comes from its schema ``description`` when it has one, else from
:data:`MEANING` below.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from hubplugins.policy.quantities import format_cpu, format_duration, format_memory
from hubplugins.policy.schema import POLICY_SCHEMA, SECTION_SCHEMA
from hubplugins.policy.table import BUILTIN_DEFAULTS, FIELDS

MEANING = {
    "servers.max_named": "Named servers a user may hold, stopped ones included; "
    "the default server is extra. null: no limit.",
    "servers.max_running": "Servers running at once, the default one included. null: no limit.",
    "servers.name_max_length": "Longest server name, in characters.",
    "idle.stop_after": "Stop a server idle this long; its volume is kept. null: never.",
    "idle.delete_after": "Delete an idle named server, and its volume where the storage "
    "rules allow, after this long. null: never.",
    "idle.delete_notice": "Mark a named server this long before retention deletes it: the "
    "home page flags it and the lifecycle service sends one event (log, metric, webhook) "
    "per idle period. Must be shorter than delete_after. null: no notice.",
    "idle.allow_keep": "Users may keep a named server: retention never deletes a kept "
    "server (the idle stop still applies). Admins see kept servers in the usage endpoint.",
    "resources.cpu.guarantee": "CPU each server is guaranteed (the pod's request) "
    "unless the user asks for another amount.",
    "resources.cpu.limit": "CPU each server may use (the pod's limit) unless the user asks.",
    "resources.cpu.max": "The most CPU a user may ask for per server.",
    "resources.memory.guarantee": "Memory each server is guaranteed (the pod's request).",
    "resources.memory.limit": "Memory each server may use (the pod's limit).",
    "resources.memory.max": "The most memory a user may ask for per server.",
    "resources.gpu.default": "GPUs a server gets when the user asks for none.",
    "resources.gpu.max": "The most GPUs a user may ask for per server.",
    "resources.gpu.resource": "The Kubernetes extended resource that counts GPUs.",
    "resources.gpu.queue.max_wait": "A start that finds the GPU pool full takes a place in "
    "a fair line (first come, first served) and starts by itself when a GPU frees, waiting "
    "at most this long; 0: no line, the start is refused at once (see [](gpus.md)).",
    "quota.cpu": "CPU (limits) across all of one user's running servers. null: no limit.",
    "quota.memory": "Memory (limits) across all of one user's running servers. null: no limit.",
    "quota.gpu": "GPUs across all of one user's running servers. null: no limit.",
    "storage.capacity": "Size of each new volume.",
    "storage.scope": "`server`: one volume per server; `user`: one volume shared by all "
    "of a user's servers.",
    "storage.mount_path": "Where the volume is mounted; `{username}` and `{servername}` "
    "are replaced.",
    "storage.delete_with_server": "Deleting a server deletes its volume (never one another "
    "server still uses); stopping never does.",
    "storage.delete_with_user": "Deleting a user deletes their volumes.",
    "profiles": 'Slugs of the KubeSpawner profiles this tier may pick; `"*"`: all.',
    "ssh_keys": "Give each user one SSH keypair, mounted read-only in all of their servers.",
    "gpu_pool": "GPUs this hub hands out in all, per extended resource, first come, first served.",
}

MERGE = {
    "more": "most generous",
    "first": "first group (by name) that sets it",
    "false_wins": "`false` (keep data) wins",
    "true_wins": "`true` wins",
    "union": "union",
}

KIND = {
    "cpu": "CPU cores (`0.5`, `500m`)",
    "memory": "Kubernetes quantity (`2G`, `2Gi`)",
    "duration": "duration (`90s`, `30m`, `2h`, `7d`) or seconds",
}


def leaves(schema: Mapping[str, Any], base: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(dotted key, schema)`` of every leaf of an object schema, in schema order."""
    for key, sub in schema.get("properties", {}).items():
        dotted = f"{base}.{key}" if base else key
        if sub.get("type") == "object" and "properties" in sub:
            yield from leaves(sub, dotted)
        else:
            yield dotted, sub


def describe_type(schema: Mapping[str, Any]) -> str:
    """What a value of ``schema`` may be, in words."""
    if "enum" in schema:
        return " or ".join(f"`{v}`" for v in schema["enum"])
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    words: list[str] = []
    if "x-kind" in schema:
        words.append(KIND.get(schema["x-kind"], schema["x-kind"]))
    elif "integer" in types:
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            words.append(f"whole number {low}-{high}")
        elif low is not None:
            words.append(f"whole number ≥ {low}")
        else:
            words.append("whole number")
    elif "boolean" in types:
        words.append("`true` or `false`")
    elif "array" in types:
        words.append("list of strings")
    elif "object" in types:
        words.append("mapping")
    elif "string" in types:
        words.append("string" + (f" matching `{schema['pattern']}`" if "pattern" in schema else ""))
    if "null" in types:
        words.append("`null`")
    return " or ".join(words) or "any"


def show_default(key: str) -> str:
    if key not in BUILTIN_DEFAULTS:
        return ""
    value = BUILTIN_DEFAULTS[key]
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if key.startswith("idle."):
        return f"`{format_duration(value)}`"
    if key.endswith(("cpu.guarantee", "cpu.limit", "cpu.max")) or key == "quota.cpu":
        return f"`{format_cpu(value)}`"
    if key.startswith("resources.memory") or key in ("quota.memory", "storage.capacity"):
        return f"`{format_memory(value)}`"
    if isinstance(value, tuple):
        return "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    return f"`{value}`"


def _cell(directive: SphinxDirective, text: str) -> nodes.entry:
    """A table cell holding ``text`` with its inline markup (backticks) parsed."""
    entry = nodes.entry()
    if text:
        paragraph = nodes.paragraph()
        inline, messages = directive.state.inline_text(text, directive.lineno)
        paragraph.extend(inline)
        entry += paragraph
        entry.extend(messages)
    return entry


def build_table(
    directive: SphinxDirective, headers: list[str], rows: list[list[str]], widths: list[int]
) -> nodes.table:
    table = nodes.table(classes=["policy-reference"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    head_row = nodes.row()
    for header in headers:
        head_row += _cell(directive, header)
    head += head_row
    body = nodes.tbody()
    group += body
    for row in rows:
        body_row = nodes.row()
        for text in row:
            body_row += _cell(directive, text)
        body += body_row
    return table


class PolicySchemaDirective(SphinxDirective):
    """The keys of a policy section (``defaults`` or a group)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        rows = []
        for key, schema in leaves(SECTION_SCHEMA):
            merge = MERGE.get(FIELDS[key][1], "") if key in FIELDS else ""
            meaning = schema.get("description") or MEANING.get(key, "")
            rows.append([f"`{key}`", describe_type(schema), show_default(key), merge, meaning])
        headers = ["Key", "Takes", "Built-in default", "Groups merge by", "Meaning"]
        return [build_table(self, headers, rows, [18, 20, 10, 12, 40])]


class PolicyClusterDirective(SphinxDirective):
    """The keys of the ``cluster`` section."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        cluster = POLICY_SCHEMA["properties"]["cluster"]
        rows = []
        for key, schema in cluster.get("properties", {}).items():
            takes = "mapping of extended resource name to a whole number"
            rows.append(
                [f"`cluster.{key}`", takes, schema.get("description") or MEANING.get(key, "")]
            )
        return [build_table(self, ["Key", "Takes", "Meaning"], rows, [20, 30, 50])]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("policy-schema", PolicySchemaDirective)
    app.add_directive("policy-cluster", PolicyClusterDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
