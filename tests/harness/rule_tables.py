"""The small policy table the rules' table tests share, and a terse way to write usage."""

from __future__ import annotations

from hubplugins.policy.decision import ServerUsage, Usage
from hubplugins.policy.table import PolicyTable

TABLE = PolicyTable.from_dict(
    {
        "defaults": {
            "servers": {"max_named": 5, "max_running": 3, "name_max_length": 20},
            "idle": {"stop_after": "2h", "delete_after": "7d"},
            "resources": {
                "cpu": {"guarantee": 0.5, "limit": 1, "max": 2},
                "memory": {"guarantee": "1G", "limit": "2G", "max": "4G"},
                "gpu": {"default": 0, "max": 0},
            },
            "quota": {"cpu": 3, "memory": "8G", "gpu": 0},
            "profiles": ["small", "medium"],
        },
        "groups": {
            "authenticated": {},
            "gpu-beta": {"resources": {"gpu": {"max": 2}}, "quota": {"gpu": 2}, "profiles": ["*"]},
            "none-named": {},
        },
    }
)
POLICY = TABLE.resolve(["authenticated"])
GPU = TABLE.resolve(["gpu-beta"])


def usage(*servers: tuple[str, bool, float, int, int] | str) -> Usage:
    """Servers as a name, or as (name, running, cpu, memory, gpu)."""
    items = []
    for s in servers:
        if isinstance(s, str):
            items.append(ServerUsage(s))
        else:
            items.append(ServerUsage(*s))
    return Usage.of(items)
