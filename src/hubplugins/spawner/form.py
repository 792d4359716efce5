"""The resource fields PolicySpawner adds to the spawn form.

They only appear when the user's policy lets them ask for more than the
defaults, and state the tier's limits so that a user knows what to ask for.
Values typed into the form reach ``user_options`` under the same keys the
REST API takes (``cpu``, ``memory``, ``gpu``, ``gpu_kind``, ``resources``).

A form post is a mapping of field names to lists of strings; it is turned into
plain strings here, where the form is read, so that the checks of
``user_options`` see what a REST body would hold and never unwrap lists.
"""

from __future__ import annotations

from html import escape
from typing import Any

from hubplugins.policy.model import Policy
from hubplugins.policy.quantities import format_cpu, format_memory

FORM_KEYS = ("cpu", "memory", "gpu", "gpu_kind", "resources")


def render_resource_fields(policy: Policy) -> str:
    """HTML for the form, or ``""`` when there is nothing above the defaults to ask."""
    cpu, mem, gpu = policy.resources.cpu, policy.resources.memory, policy.resources.gpu
    kinds = policy.resources.gpu_kinds
    if cpu.max <= cpu.limit and mem.max <= mem.limit and gpu.max <= gpu.default and not kinds:
        return ""
    tier = escape(policy.tier)
    rows = [
        _field("cpu", "CPU cores", format_cpu(cpu.limit), f"up to {format_cpu(cpu.max)}"),
        _field("memory", "Memory", format_memory(mem.limit), f"up to {format_memory(mem.max)}"),
    ]
    if gpu.max or kinds:
        rows.append(_field("gpu", "GPUs", str(gpu.default), f"up to {gpu.max}"))
    if kinds:
        rows.append(_kind_field(policy))
    return f"""
<fieldset class="hubplugins-resources" style="margin-top: 1em">
  <legend>Resources for this server ({tier})</legend>
  {"".join(rows)}
  <details>
    <summary>Or paste a <code>.resources</code> file</summary>
    <textarea class="form-control" name="resources" rows="4"
      placeholder="# one key=value a line: gpu, cpur, cpul, memr, meml (memory in GB)"></textarea>
  </details>
  <p class="form-text">Leave a field empty to keep the default. Anything above the
  limit is refused, never lowered.</p>
</fieldset>
"""


def render_caps(policy: Policy) -> str:
    """One line stating the tier's caps, per server and across running servers."""
    cpu, mem, gpu = policy.resources.cpu, policy.resources.memory, policy.resources.gpu
    each = [f"{format_cpu(cpu.max)} CPUs", f"{format_memory(mem.max)} memory"]
    if gpu.max:
        each.append(f"{gpu.max} GPUs")
    quota = policy.quota
    total = []
    if quota.cpu is not None:
        total.append(f"{format_cpu(quota.cpu)} CPUs")
    if quota.memory is not None:
        total.append(f"{format_memory(quota.memory)} memory")
    if quota.gpu:
        total.append(f"{quota.gpu} GPUs")
    parts = [f"each server up to {', '.join(each)}"]
    if total:
        parts.append(f"all your running servers together {', '.join(total)}")
    servers = policy.servers
    if servers.max_named is not None:
        parts.append(f"{servers.max_named} named servers")
    if servers.max_running is not None:
        parts.append(f"{servers.max_running} running at once")
    return (
        f'<p class="hubplugins-caps form-text">Your limits ({escape(policy.tier)}): '
        f"{escape('; '.join(parts))}.</p>"
    )


def _field(name: str, label: str, default: str, limit: str) -> str:
    return (
        f'<div class="form-group"><label for="hubplugins-{name}">{escape(label)} '
        f"(default {escape(default)}, {escape(limit)})</label>"
        f'<input class="form-control" id="hubplugins-{name}" name="{name}" '
        f'placeholder="{escape(default)}" autocomplete="off"></div>'
    )


def _kind_field(policy: Policy) -> str:
    """A choice of GPU kind: the tier's own first (sent as no choice), then each other kind."""
    res = policy.resources
    options = [f'<option value="">{escape(res.gpu.resource)} (up to {res.gpu.max})</option>']
    for kind, most in res.gpu_kinds.items():
        options.append(f'<option value="{escape(kind)}">{escape(kind)} (up to {most})</option>')
    return (
        '<div class="form-group"><label for="hubplugins-gpu_kind">GPU kind</label>'
        '<select class="form-control" id="hubplugins-gpu_kind" name="gpu_kind">'
        f"{''.join(options)}</select></div>"
    )


def resource_options_from_form(formdata: dict[str, list[str]]) -> dict[str, str]:
    """The resource keys the user filled in (empty fields keep the defaults)."""
    options: dict[str, str] = {}
    for key in FORM_KEYS:
        values = formdata.get(key) or []
        value = values[0] if values else ""
        if value.strip():
            options[key] = value
    return options


UNLISTED_CHOICE = "unlisted-choice"
"""What KubeSpawner's form selects when the user types a value of their own."""


def profile_options_from_form(options: dict[str, Any]) -> dict[str, Any]:
    """KubeSpawner's options from a form post, as a REST body would give them.

    Empty fields (an unused free-text input) are left out, and so is the
    select's ``unlisted-choice`` marker: the typed value under
    ``<option>--unlisted-choice`` is the choice.
    """
    return {
        key: value
        for key, value in options.items()
        if value is not None and value != "" and value != UNLISTED_CHOICE
    }
