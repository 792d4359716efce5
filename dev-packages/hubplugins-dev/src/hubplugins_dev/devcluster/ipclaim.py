"""The 127.N.0.0/16 block a devcluster gives its pods, held by one devcluster at a time.

Pods listen on their own loopback address, KubeSpawner's port 8888 on every one, so
two devclusters on one machine (parallel test workers, several test runs) must not
hand out the same addresses. On Linux a devcluster claims its block by binding the
abstract Unix socket ``hubplugins-devcluster-N``: the kernel lets one process hold a
name, and releases it when the process exits, however it exits. A block where
something already listens (a devcluster of an older version, which claims nothing)
is passed over too. Elsewhere the block is chosen at random, as the only guard.
"""

from __future__ import annotations

import random
import socket
import sys
from pathlib import Path

FIRST, LAST = 100, 250  # the second octet of the blocks devclusters use


class IpBlock:
    """A claimed ``127.N.0.0/16``: ``prefix`` is N; ``release()`` gives it back."""

    def __init__(self) -> None:
        self._claim: socket.socket | None = None
        busy = _listening_blocks()
        candidates = [n for n in range(FIRST, LAST + 1) if n not in busy] or [FIRST]
        random.shuffle(candidates)
        self.prefix = candidates[0]
        if not sys.platform.startswith("linux"):
            return
        for prefix in candidates:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(f"\0hubplugins-devcluster-{prefix}")
            except OSError:  # another devcluster holds it
                sock.close()
                continue
            self.prefix, self._claim = prefix, sock
            return

    def release(self) -> None:
        if self._claim is not None:
            self._claim.close()
            self._claim = None


def _listening_blocks() -> set[int]:
    """The N of every 127.N.x.y that a TCP socket listens on (Linux), else none."""
    busy: set[int] = set()
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return busy
    for line in lines:
        fields = line.split()
        # local address as little-endian hex, "0A" is LISTEN: 127.5.1.2 is "0201057F"
        if len(fields) > 3 and fields[3] == "0A" and fields[1][6:8] == "7F":
            busy.add(int(fields[1][4:6], 16))
    return busy
