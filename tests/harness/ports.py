"""Free loopback ports, chosen at run time so parallel runs never clash."""

from __future__ import annotations

import socket
from contextlib import ExitStack

_GIVEN: set[int] = set()  # ports this process has handed out: never twice


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports that were free on ``host`` a moment ago.

    The sockets stay bound until all are chosen, so no two of them are one port,
    and a port handed out before in this process is not handed out again.
    """
    chosen: list[int] = []
    with ExitStack() as stack:
        while len(chosen) < count:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
            if port not in _GIVEN:
                chosen.append(port)
    _GIVEN.update(chosen)
    return chosen


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    return free_ports(1, host)[0]
