"""Random starts, stops, deletes and hub restarts; after each step every volume holds its files.

A real hub with PolicySpawner on a devcluster (stub pods), three users under
three storage policies: ``chaos0`` (one volume per server, deleted with the
server and with the user), ``keep2`` (deleting keeps the data) and
``shared3`` (one volume per user, deleted with the user). Each step is one
random action; then every volume the policy says must exist is checked to be
there with the marker file written into it when it was first seen, and every
volume the policy says is gone is checked to be gone.

    python benchmarks/volume_chaos.py [--steps 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness.hub import start_hub  # noqa: E402
from volumes.hubconfig import CONFIG  # noqa: E402

from hubplugins import volume_names  # noqa: E402
from hubplugins.devcluster.testing import run_devcluster  # noqa: E402

NS = "default"
USERS = {"chaos0": "server", "keep2": "keep", "shared3": "user"}
SERVERS = ["", "a", "b"]
MARKER = "chaos-marker.txt"


class Chaos:
    def __init__(self, hub, cluster, rng: random.Random) -> None:
        self.hub, self.cluster, self.rng = hub, cluster, rng
        self.expected: dict[str, str] = {}  # claim -> marker it must hold
        self.gone: set[str] = set()  # claims the policy deleted
        self.running: set[tuple[str, str]] = set()
        self.known: set[tuple[str, str]] = set()  # server records that exist
        self.ops: Counter[str] = Counter()
        self.violations: list[str] = []

    def claim(self, user: str, server: str) -> str:
        if USERS[user] == "user":
            return volume_names.user_claim(user)
        return volume_names.server_claim(user, server)

    async def api(self, method: str, path: str, json=None):
        resp = await self.hub.api(method, path, json=json)
        if resp.status_code >= 400 and resp.status_code not in (404, 409):
            raise RuntimeError(f"{method} {path}: {resp.status_code} {resp.text}")
        return resp

    async def start(self, user: str, server: str) -> None:
        await self.api("POST", f"/users/{user}/servers/{server}", json={"profile": "stub"})
        await self.hub.wait_for_server(user, server)
        self.running.add((user, server))
        self.known.add((user, server))
        claim = self.claim(user, server)
        self.gone.discard(claim)
        if claim not in self.expected:
            path = self.cluster.control.volume_path(NS, claim)
            marker = secrets.token_hex(8)
            (path / MARKER).write_text(marker)
            self.expected[claim] = marker

    async def stop(self, user: str, server: str) -> None:
        await self.api("DELETE", f"/users/{user}/servers/{server}")
        await self.hub.wait_for_server(user, server, ready=False)
        self.running.discard((user, server))

    async def delete_server(self, user: str, server: str) -> None:
        await self.api("DELETE", f"/users/{user}/servers/{server}", json={"remove": True})
        await self._until_removed(user, server)
        self.running.discard((user, server))
        self.known.discard((user, server))
        if USERS[user] == "server":
            self._forget(self.claim(user, server))

    async def delete_user(self, user: str) -> None:
        for u, s in list(self.running):
            if u == user:
                await self.stop(u, s)
        await self.api("DELETE", f"/users/{user}")
        if USERS[user] == "keep":
            pass
        elif USERS[user] == "user":
            self._forget(self.claim(user, ""))
        else:
            for u, s in [*self.known, (user, "")]:
                if u == user:
                    self._forget(self.claim(u, s))
        self.known = {k for k in self.known if k[0] != user}
        # back again, with the group the hub config gives it
        await self.api("POST", f"/users/{user}")

    def _forget(self, claim: str) -> None:
        if claim in self.expected:
            del self.expected[claim]
            self.gone.add(claim)

    async def _until_removed(self, user: str, server: str) -> None:
        for _ in range(600):
            model = (await self.api("GET", f"/users/{user}?include_stopped_servers")).json()
            if server not in model["servers"]:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{user}/{server} never removed")

    def check(self, step: int, action: str) -> None:
        volumes = self.cluster.control.volumes()
        for claim, marker in self.expected.items():
            path = volumes.get(f"{NS}/{claim}")
            held = (Path(path) / MARKER).read_text() if path else None
            if held != marker:
                self.violations.append(f"step {step} ({action}): {claim} lost its files")
        for claim in self.gone:
            if f"{NS}/{claim}" in volumes:
                self.violations.append(f"step {step} ({action}): {claim} should be gone")

    async def step(self, step: int) -> str:
        user = self.rng.choice(sorted(USERS))
        server = self.rng.choice(SERVERS)
        roll = self.rng.random()
        key = (user, server)
        if roll < 0.04:
            action = "restart hub"
            await self.hub.restart()
        elif roll < 0.10:
            action = f"delete user {user}"
            await self.delete_user(user)
        elif roll < 0.30 and server and key in self.known:
            action = f"delete {user}/{server}"
            await self.delete_server(user, server)
        elif key in self.running:
            action = f"stop {user}/{server or '(default)'}"
            await self.stop(user, server)
        else:
            action = f"start {user}/{server or '(default)'}"
            await self.start(user, server)
        self.ops[action.split()[0]] += 1
        self.check(step, action)
        return action


async def run(steps: int, seed: int) -> int:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, run_devcluster(Path(tmp) / "cluster") as cluster:
        hub = await start_hub(Path(tmp) / "hub", CONFIG, kubeconfig=cluster.kubeconfig)
        chaos = Chaos(hub, cluster, rng)
        started = time.monotonic()
        try:
            for user in USERS:
                await chaos.api("POST", f"/users/{user}")
            for i in range(1, steps + 1):
                action = await chaos.step(i)
                print(f"{i:4d} {action:32s} volumes expected: {len(chaos.expected)}", flush=True)
        finally:
            await hub.stop()
        seconds = time.monotonic() - started
    print(f"\n{steps} steps in {seconds:.1f} s (seed {seed}): {dict(chaos.ops)}")
    for line in chaos.violations:
        print("VIOLATION", line)
    print("no volume lost or kept against the policy" if not chaos.violations else "FAILED")
    return 1 if chaos.violations else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="random actions")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.steps, args.seed)))


if __name__ == "__main__":
    main()
