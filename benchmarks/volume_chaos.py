"""Random starts, stops, deletes and hub restarts; after each step every volume holds its files.

A real hub (JupyterHub 6) with PolicySpawner on a devcluster (stub pods), ten
users under three storage policies: ``chaos0-3`` (one volume per server,
deleted with the server and with the user), ``keep4-6`` (deleting keeps the
data) and ``shared7-9`` (one volume per user, deleted with the user). Each
step is one random action (start, stop, delete a server, rename a stopped
server, delete the user, restart the hub); then every volume the policy says
must exist is checked to be there with the marker file written into it when
it was first seen, every volume the policy says is gone is checked to be
gone, and no two servers of a per-server user share a volume.

    python benchmarks/volume_chaos.py [--steps 1000] [--seed 1]
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

from hubplugins.spawner import volume_names  # noqa: E402
from hubplugins_dev.devcluster.testing import run_devcluster  # noqa: E402

NS = "default"
USERS = {
    **{f"chaos{i}": "server" for i in range(4)},
    **{f"keep{i}": "keep" for i in range(4, 7)},
    **{f"shared{i}": "user" for i in range(7, 10)},
}
GROUP_OF = {"keep": "keep", "user": "shared"}
SERVERS = ["", "a", "b", "c"]
# room for every server of every user at once: the run is about volumes, not scheduling
CAPACITY = {"cpu": "1000", "memory": "10Ti", "pods": "1000"}
# the volume tests' hub, with these users in its groups
GROUPS_CONFIG = "\nc.JupyterHub.load_groups = " + repr(
    {
        group: {"users": [u for u, kind in USERS.items() if GROUP_OF.get(kind) == group]}
        for group in ("keep", "shared")
    }
)
MARKER = "chaos-marker.txt"


class Chaos:
    def __init__(self, hub, cluster, rng: random.Random) -> None:
        self.hub, self.cluster, self.rng = hub, cluster, rng
        self.expected: dict[str, str] = {}  # claim -> marker it must hold
        self.gone: set[str] = set()  # claims the policy deleted
        self.running: set[tuple[str, str]] = set()
        self.known: set[tuple[str, str]] = set()  # server records that exist
        self.claims: dict[tuple[str, str], str] = {}  # server record -> its volume
        self.ops: Counter[str] = Counter()
        self.violations: list[str] = []

    def claim(self, user: str, server: str) -> str:
        if USERS[user] == "user":
            return volume_names.user_claim(user)
        return self.claims.get((user, server)) or volume_names.server_claim(user, server)

    def mounted_claim(self, user: str, server: str) -> str:
        pod = f"jupyter-{volume_names.user_server(user, server)}"
        for obj in self.cluster.control.objects("pods"):
            if obj["metadata"]["name"] == pod and not obj["metadata"].get("deletionTimestamp"):
                for volume in obj["spec"].get("volumes") or []:
                    pvc = volume.get("persistentVolumeClaim")
                    if pvc:
                        return str(pvc["claimName"])
        raise RuntimeError(f"no pod with a volume for {user}/{server}")

    async def api(self, method: str, path: str, json=None):
        resp = await self.hub.api(method, path, json=json)
        if resp.status_code >= 400 and resp.status_code not in (404, 409):
            raise RuntimeError(f"{method} {path}: {resp.status_code} {resp.text}")
        return resp

    async def start(self, user: str, server: str) -> None:
        resp = await self.api("POST", f"/users/{user}/servers/{server}", json={"profile": "stub"})
        if resp.status_code not in (201, 202):
            raise RuntimeError(f"start {user}/{server}: {resp.status_code} {resp.text}")
        await self.hub.wait_for_server(user, server)
        self.running.add((user, server))
        self.known.add((user, server))
        claim = self.mounted_claim(user, server)
        expected = self.claims.get((user, server))
        if expected is not None and expected != claim:
            self.violations.append(f"{user}/{server} mounts {claim}, not its own {expected}")
        if USERS[user] != "user":
            for other, other_claim in self.claims.items():
                if other != (user, server) and other_claim == claim:
                    self.violations.append(f"{user}/{server} got {other[0]}/{other[1]}'s volume")
            self.claims[(user, server)] = claim
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
        claim = self.claims.pop((user, server), None)
        if USERS[user] == "server" and claim:
            self._forget(claim)

    async def rename(self, user: str, server: str, new: str) -> None:
        resp = await self.api("PATCH", f"/users/{user}/servers/{server}", json={"name": new})
        if resp.status_code != 200:
            raise RuntimeError(f"rename {user}/{server} -> {new}: {resp.status_code} {resp.text}")
        self.known.discard((user, server))
        self.known.add((user, new))
        if (user, server) in self.claims:
            self.claims[(user, new)] = self.claims.pop((user, server))

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
            for key, claim in self.claims.items():
                if key[0] == user:
                    self._forget(claim)
        self.known = {k for k in self.known if k[0] != user}
        self.claims = {k: v for k, v in self.claims.items() if k[0] != user}
        # back again, in the group the hub config gives it
        await self.create_user(user)

    async def create_user(self, user: str) -> None:
        await self.api("POST", f"/users/{user}")
        group = GROUP_OF.get(USERS[user])
        if group:
            await self.api("POST", f"/groups/{group}/users", json={"users": [user]})

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
        elif roll < 0.40 and server and key in self.known and key not in self.running:
            new = self.rng.choice([n for n in SERVERS if n and (user, n) not in self.known] or [""])
            if not new:
                action = f"skip rename of {user}/{server}: no free name"
            else:
                action = f"rename {user}/{server} -> {new}"
                await self.rename(user, server, new)
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
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_devcluster(Path(tmp) / "cluster", capacity=CAPACITY) as cluster,
    ):
        hub = await start_hub(
            Path(tmp) / "hub", CONFIG + GROUPS_CONFIG, kubeconfig=cluster.kubeconfig
        )
        chaos = Chaos(hub, cluster, rng)
        started = time.monotonic()
        try:
            for user in USERS:
                await chaos.create_user(user)
            for i in range(1, steps + 1):
                action = await chaos.step(i)
                print(f"{i:4d} {action:32s} volumes expected: {len(chaos.expected)}", flush=True)
        except Exception:
            print(hub.log_tail(60), file=sys.stderr)
            raise
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
    parser.add_argument("--steps", type=int, default=1000, help="random actions")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.steps, args.seed)))


if __name__ == "__main__":
    main()
