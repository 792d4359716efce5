"""The 127.N.0.0/16 block a devcluster gives its pods, held by one devcluster at a time.

Pods listen on their own loopback address, KubeSpawner's port 8888 on every one, so
two devclusters on one machine (parallel test workers, several test runs) must not
hand out the same addresses. On Linux a devcluster claims its block by binding the
abstract Unix socket ``hubplugins-devcluster-N``: the kernel lets one process hold a
name, and releases it when the process exits, however it exits. Elsewhere the block
is chosen at random, as the only guard.
"""

from __future__ import annotations

import random
import socket
import sys

FIRST, LAST = 100, 250  # the second octet of the blocks devclusters use


class IpBlock:
    """A claimed ``127.N.0.0/16``: ``prefix`` is N; ``release()`` gives it back."""

    def __init__(self) -> None:
        self._claim: socket.socket | None = None
        candidates = list(range(FIRST, LAST + 1))
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
