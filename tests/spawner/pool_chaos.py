"""Random GPU starts, hanging starts, stops, deletes and hub kills against a small pool.

After every step the pods holding GPUs are counted from the devcluster: never
more than the pool, whatever the hub went through. Shared by the suite's
bounded run and ``benchmarks/gpu_pool_chaos.py``.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.hub import Hub

from .pool_hub import add_gpu_users, gpu_pods, hang_start, start_gpu

POOL = 2
USERS = [f"chaos{i}" for i in range(4)]
SERVERS = ["", "a"]
# action -> weight
ACTIONS = {"start": 4, "hang": 3, "stop": 3, "delete": 2, "kill": 2}


@dataclass
class Chaos:
    hub: Hub
    cluster: Any
    rng: random.Random
    pool: int = POOL
    prefix: str = ""
    log: Callable[[str], None] = lambda line: None
    ops: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # actions from a generator of their own: the seed fixes the sequence of
        # actions whatever the hub answers, the other picks their targets
        self.actions = random.Random(self.rng.getrandbits(64))

    @property
    def users(self) -> list[str]:
        return [f"{self.prefix}{u}" for u in USERS]

    async def setup(self) -> None:
        await add_gpu_users(self.hub, *self.users)

    async def servers(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(user, server) -> the hub's model of every server that exists."""
        found = {}
        for user in self.users:
            resp = await self.hub.api("GET", f"/users/{user}")
            self.check(resp, "read")
            for name, model in resp.json()["servers"].items():
                found[(user, name)] = model
        return found

    async def settle(self, timeout: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while any(m.get("pending") == "check" for m in (await self.servers()).values()):
            assert asyncio.get_running_loop().time() < deadline, "servers still checked"
            await asyncio.sleep(0.2)

    def check(self, resp: Any, what: str) -> None:
        if resp.status_code >= 500:
            self.violations.append(f"{what}: {resp.status_code} {resp.text[:200]}")

    async def step(self, n: int) -> str:
        started = asyncio.get_running_loop().time()
        action = self.actions.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        servers = await self.servers()
        if action in ("start", "hang"):
            options = [(u, s) for u in self.users for s in SERVERS if (u, s) not in servers]
        elif action in ("stop", "delete"):
            # a server the restarted hub still checks cannot be stopped (JupyterHub answers 500)
            options = [k for k, m in servers.items() if m.get("pending") not in ("check", "stop")]
        else:
            options = [("", "")]
        user, server = self.rng.choice(sorted(options)) if options else ("", "")
        path = f"/users/{user}/servers/{server}"
        outcome = ""
        if not options:
            outcome = "none"
        elif action == "hang":
            outcome = await hang_start(self.hub, self.cluster, user, server)
            if outcome.startswith("5"):
                self.violations.append(f"hang {user}/{server}: {outcome}")
        elif action == "start":
            resp = await start_gpu(self.hub, user, server)
            self.check(resp, f"start {user}/{server}")
            outcome = str(resp.status_code)
        elif action in ("stop", "delete"):
            body = {"remove": True} if action == "delete" and server else None
            resp = await self.hub.api("DELETE", path, json=body)
            self.check(resp, f"{action} {user}/{server}")
            outcome = str(resp.status_code)
        else:
            # a kill with GPU pods running or starting is what the pool must survive
            holding = "busy" if gpu_pods(self.cluster) else "idle"
            await self.hub.kill()
            await self.hub.start()
            # right after the restart the pool must already count every pod ...
            held = gpu_pods(self.cluster)
            if sum(held.values()) > self.pool:
                self.violations.append(f"step {n} restart: {sum(held.values())} GPUs: {held}")
            resp = await start_gpu(self.hub, self.users[0], "probe")
            self.check(resp, "start after restart")
            if resp.status_code in (201, 202):
                await self.hub.api(
                    "DELETE", f"/users/{self.users[0]}/servers/probe", json={"remove": True}
                )
            # ... then the hub finishes checking what it found (interrupted starts
            # are given up after the spawner's http_timeout)
            await self.settle()
            outcome = f"{holding}"
        self.ops[f"{action} {outcome}"] += 1
        held = gpu_pods(self.cluster)
        if sum(held.values()) > self.pool:
            self.violations.append(f"step {n}: {sum(held.values())} GPUs held: {held}")
        seconds = asyncio.get_running_loop().time() - started
        line = (
            f"{n:4d} {action:6s} {user}/{server:1s} -> {outcome:9s} "
            f"gpus={sum(held.values())} ({seconds:.1f} s)"
        )
        self.log(line)
        return line

    async def run(self, steps: int) -> list[str]:
        await self.setup()
        for n in range(steps):
            await self.step(n)
        return self.violations
