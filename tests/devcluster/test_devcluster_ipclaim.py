"""Pod address blocks: no two devclusters on one machine hand out the same addresses."""

from __future__ import annotations

import socket
import sys

import pytest

from hubplugins_dev.devcluster.ipclaim import FIRST, LAST, IpBlock, _listening_blocks

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="claims are abstract Unix sockets"
)


def _claimable(prefix: int) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(f"\0hubplugins-devcluster-{prefix}")
        except OSError:
            return False
        return True


def test_blocks_held_at_once_differ_and_a_released_one_is_free_again():
    blocks = [IpBlock() for _ in range(20)]
    try:
        prefixes = [b.prefix for b in blocks]
        assert len(set(prefixes)) == len(prefixes)
        assert all(FIRST <= p <= LAST for p in prefixes)
        assert not _claimable(blocks[0].prefix)
        blocks[0].release()
        assert _claimable(blocks[0].prefix)
    finally:
        for block in blocks:
            block.release()


def test_a_block_something_listens_in_is_passed_over():
    """As one of a devcluster that claims nothing (an older version) would be."""
    with socket.socket() as server:
        server.bind((f"127.{LAST}.1.1", 0))
        server.listen()
        assert LAST in _listening_blocks()
        blocks = [IpBlock() for _ in range(20)]
        try:
            assert LAST not in {b.prefix for b in blocks}
        finally:
            for block in blocks:
                block.release()
