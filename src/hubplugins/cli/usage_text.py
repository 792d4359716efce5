"""``hubplugins usage --url URL --token TOKEN [--user NAME] [--json]``: usage from the terminal.

Reads ``GET /hub/api/users`` and, for each user, ``GET
/hub/api/hubplugins/usage/{user}`` with the token given (an admin's, or one
with ``list:users`` and ``read:servers``), then prints each user's servers
against their limits, and who holds which GPUs. ``--json`` prints
``{"users": [<usage report>...], "gpu_pool": [...], "gpu_holders": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from hubplugins.policy.quantities import format_cpu, format_memory

__all__ = ["add_parser", "api_url", "usage_json", "usage_text"]

PAGINATION = "application/jupyterhub-pagination+json"


class UsageError(RuntimeError):
    pass


def api_url(url: str) -> str:
    """The hub's REST API from a hub URL (``https://hub.example.org``) or the API URL itself."""
    url = url.rstrip("/")
    if url.endswith("/hub/api"):
        return url
    if url.endswith("/hub"):
        return url + "/api"
    return url + "/hub/api"


def _get(url: str, token: str, accept: str = "application/json") -> Any:
    request = urllib.request.Request(
        url, headers={"Authorization": f"token {token}", "Accept": accept}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")[:300]
        try:
            text = json.loads(text).get("message") or text
        except (ValueError, AttributeError):
            pass
        raise UsageError(f"GET {url}: HTTP {exc.code}: {text}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UsageError(f"GET {url}: {exc}") from None


def _user_names(api: str, token: str) -> list[str]:
    names: list[str] = []
    offset = 0
    while True:
        page = _get(f"{api}/users?{urlencode({'offset': offset, 'limit': 200})}", token, PAGINATION)
        items = page if isinstance(page, list) else page.get("items", [])
        names.extend(str(u["name"]) for u in items)
        info = page.get("_pagination") if isinstance(page, dict) else None
        if not info or not info.get("next") or not items:
            return names
        offset += len(items)


def _gpu_holders(reports: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    holders = []
    for report in reports:
        resource = report["per_server"]["gpu"]["resource"]
        for server in report["servers"]:
            gpus = (server.get("granted") or {}).get("gpu") or 0
            if gpus:
                holders.append(
                    {"user": report["user"], "server": server["name"], "gpu": gpus,
                     "resource": resource}
                )  # fmt: skip
    return holders


def usage_json(reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``--json`` answer for the users' usage reports."""
    pool = reports[0]["gpu_pool"] if reports else []
    return {"users": list(reports), "gpu_pool": pool, "gpu_holders": _gpu_holders(reports)}


def _server_line(server: Mapping[str, Any]) -> str:
    name = server["name"] or "(default)"
    granted = server.get("granted")
    held = ""
    if granted:
        held = f"cpu {format_cpu(granted['cpu'])}, memory {format_memory(granted['memory'])}"
        if granted.get("gpu"):
            held += f", gpu {granted['gpu']}"
    rules = []
    if server.get("stop"):
        rules.append(server["stop"]["text"] + f" [{server['stop']['group']}]")
    if server.get("kept"):
        rules.append("KEPT (never deleted by retention)")
    elif server.get("delete"):
        rules.append(server["delete"]["text"] + f" [{server['delete']['group']}]")
    if server.get("notice"):
        rules.append("NOTICE: " + server["notice"]["text"])
    return f"  {name:<20} {server['state']:<9} {held:<32} {'; '.join(rules)}".rstrip()


def usage_text(reports: Sequence[Mapping[str, Any]]) -> str:
    """Each user's servers against their limits, then the GPU pool and who holds it."""
    lines = []
    for report in reports:
        lines.append(f"{report['user']} ({report['tier']}): {report['summary']}")
        lines.extend(_server_line(server) for server in report["servers"])
    summary = usage_json(reports)
    for pool in summary["gpu_pool"]:
        size = pool["size"] if pool["size"] is not None else "no cap"
        lines.append(f"GPU pool {pool['resource']}: {pool['in_use']} of {size} in use")
    for holder in summary["gpu_holders"]:
        server = holder["server"] or "(default)"
        lines.append(f"  {holder['user']}/{server}: {holder['gpu']} {holder['resource']}")
    return "\n".join(lines)


def cmd_usage(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not args.url or not token:
        print("hubplugins usage: give --url and --token", file=sys.stderr)
        return 2
    api = api_url(args.url)
    try:
        names = args.user or _user_names(api, token)
        reports = [_get(f"{api}/hubplugins/usage/{quote(n, safe='')}", token) for n in names]
    except UsageError as exc:
        print(f"hubplugins usage: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(usage_json(reports), indent=2, sort_keys=True))
    else:
        print(usage_text(reports))
    return 0


def add_parser(commands: Any) -> None:
    """Register ``usage`` on the CLI's subcommands."""
    usage = commands.add_parser("usage", help="each user's servers against their limits")
    usage.add_argument(
        "--url",
        default=os.environ.get("JUPYTERHUB_API_URL", ""),
        help="the hub (https://hub.example.org) or its API URL (default: $JUPYTERHUB_API_URL)",
    )
    usage.add_argument("--token", default="", help="an admin's API token ($JUPYTERHUB_API_TOKEN)")
    usage.add_argument("--user", action="append", help="only this user (repeatable)")
    usage.add_argument("--json", action="store_true", help="print JSON")
    usage.set_defaults(run=cmd_usage)
