"""Run a real JupyterHub (5.5 or 6.x) with the real configurable-http-proxy.

A :class:`Hub` is one ``jupyterhub`` process started from the environment of
the wanted JupyterHub series, with its own database, ports and log file in a
work directory. Tests reach it the way users do: through the proxy, with the
login form or the REST API.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import textwrap
from pathlib import Path

import httpx

from .ports import free_ports

ROOT = Path(__file__).resolve().parents[2]

# JupyterHub series -> the environment that holds it (see ./dev).
VENVS = {"6": ROOT / ".venv", "5.5": ROOT / ".venv-jh55"}
CHP = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"

ADMIN_SERVICE = "test-admin"
ADMIN_SCOPES = [
    "admin:users",
    "admin:servers",
    "admin:groups",
    "admin:auth_state",
    "tokens",
    "access:servers",
    "read:hub",
    "read:metrics",
    "proxy",
    "shutdown",
]

BASE_CONFIG = """\
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = {workdir!r} + "/proxy.pid"
c.JupyterHub.pid_file = {workdir!r} + "/hub.pid"
c.JupyterHub.db_url = "sqlite:///" + {db_path!r}
c.JupyterHub.cookie_secret_file = {workdir!r} + "/cookie_secret"
c.JupyterHub.cleanup_servers = False
c.JupyterHub.log_level = "DEBUG"
c.JupyterHub.services = [{{"name": "{service}", "api_token": {token!r}}}]
# the test token is random: hash it with one round, as JupyterHub does its own
c.JupyterHub.trust_user_provided_tokens = True
c.JupyterHub.load_roles = [
    {{"name": "{service}", "scopes": {scopes!r}, "services": ["{service}"]}},
]
# hubplugins.setup(c) starts the lifecycle service; its own tests wire it
# explicitly, the other hubs do without the extra process
c.HubLifecycle.enabled = False
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {{"admin"}}
"""

KUBE_CONFIG = """\
c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
c.KubeSpawner.namespace = "default"
c.KubeSpawner.image = "devcluster/stub"
c.KubeSpawner.cmd = ["jupyterhub-singleuser"]
c.KubeSpawner.hub_connect_url = "http://127.0.0.1:{hub_port}"
c.KubeSpawner.start_timeout = 60
c.KubeSpawner.http_timeout = 60
"""


_DB_DIR: Path | None = None


def _db_dir() -> Path:
    """Where the hubs' databases live: memory-backed when the machine has it.

    JupyterHub commits to its database several times per spawn; on a busy
    disk each commit's fsync stalls the hub's event loop. The tests' hubs keep
    their database in /dev/shm (removed when the test process exits), so the
    hub's own bookkeeping does not drown what the tests measure.
    """
    global _DB_DIR
    if _DB_DIR is None:
        shm = Path("/dev/shm")
        base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        _DB_DIR = Path(tempfile.mkdtemp(prefix="hubplugins-db-", dir=base))
        atexit.register(shutil.rmtree, _DB_DIR, True)
    return _DB_DIR


class HubError(RuntimeError):
    """The hub did not start or stop as expected; the message holds its log."""


class Hub:
    """A JupyterHub process and what a test needs to talk to it."""

    def __init__(
        self,
        workdir: Path,
        config: str,
        *,
        jupyterhub: str = "6",
        kubeconfig: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        if jupyterhub not in VENVS:
            raise ValueError(f"unknown JupyterHub series {jupyterhub!r}; known: {sorted(VENVS)}")
        self.workdir = workdir
        self.version = jupyterhub
        self.port, self.hub_port, self.proxy_api_port = free_ports(3)
        self.url = f"http://127.0.0.1:{self.port}"
        self.hub_api = f"{self.url}/hub/api"
        self.token = secrets.token_hex(16)
        self.log = workdir / "hub.log"
        self.kubeconfig = kubeconfig
        self._extra_env = dict(env or {})
        self._proc: asyncio.subprocess.Process | None = None
        self._clients: list[httpx.AsyncClient] = []
        workdir.mkdir(parents=True, exist_ok=True)
        fields = {
            "port": self.port,
            "hub_port": self.hub_port,
            "proxy_api_port": self.proxy_api_port,
            "chp": str(CHP),
            "workdir": str(workdir),
            "db_path": str(_db_dir() / f"{workdir.name}-{self.port}.sqlite"),
            "service": ADMIN_SERVICE,
            "token": self.token,
            "scopes": ADMIN_SCOPES,
        }
        self.db_path = str(fields["db_path"])
        text = BASE_CONFIG.format(**fields)
        if kubeconfig is not None:
            text += KUBE_CONFIG.format(**fields)
        text += "\n# --- test configuration ---\n" + textwrap.dedent(config)
        self.config_file = workdir / "jupyterhub_config.py"
        self.config_file.write_text(text)

    # -- process ---------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        bindir = str(VENVS[self.version] / "bin")
        env["PATH"] = os.pathsep.join([bindir, str(Path(sys.executable).parent), env["PATH"]])
        env.pop("JUPYTERHUB_API_TOKEN", None)
        env["PYTHONUNBUFFERED"] = "1"
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        env.update(self._extra_env)
        return env

    async def start(self, timeout: float = 60) -> Hub:
        """Start the hub and return once its REST API answers through the proxy."""
        exe = VENVS[self.version] / "bin" / "jupyterhub"
        logf = open(self.log, "ab")  # noqa: ASYNC230 - closed in stop()
        self._logf = logf
        self._proc = await asyncio.create_subprocess_exec(
            str(exe),
            "-f",
            str(self.config_file),
            cwd=self.workdir,
            env=self._env(),
            stdout=logf,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        await self._wait_ready(timeout)
        return self

    async def _wait_ready(self, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                if self._proc is not None and self._proc.returncode is not None:
                    raise HubError(f"hub exited with {self._proc.returncode}:\n{self.log_tail()}")
                try:
                    resp = await client.get(f"{self.hub_api}/")
                    if resp.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise HubError(f"hub not ready after {timeout}s:\n{self.log_tail()}")
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Stop the hub (and its proxy) and wait for them to exit."""
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        # what is left of the hub's process group, and the proxy, which runs in
        # a session of its own and outlives a hub that exited by itself
        self._kill_groups(proc.pid)
        self._logf.close()

    def _kill_groups(self, hub_pid: int) -> list[int]:
        """SIGKILL the hub's process group and the proxy's (configurable-http-proxy
        runs in a session of its own); the process groups, the hub's first."""
        groups = [hub_pid]
        try:
            groups.append(int((self.workdir / "proxy.pid").read_text().strip()))
        except (OSError, ValueError):
            pass
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return groups

    async def kill(self) -> None:
        """SIGKILL the hub's process group and the proxy it started, as a crash would.

        Nothing is cleaned up: pods keep running, the database keeps what the
        hub last wrote and the pid files stay. ``start()`` brings the hub back
        on the same database.
        """
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        proc, self._proc = self._proc, None
        if proc is None:
            return
        groups = self._kill_groups(proc.pid)
        await proc.wait()
        self._logf.close()
        deadline = asyncio.get_running_loop().time() + 15
        for pid in groups[1:]:  # gone, so the next hub finds no proxy to stop
            while _alive(pid):
                if asyncio.get_running_loop().time() > deadline:
                    raise HubError(f"proxy {pid} still running after SIGKILL")
                await asyncio.sleep(0.05)

    async def kill_only_the_hub(self) -> int:
        """SIGKILL the hub's own process alone, as the kernel's out-of-memory killer would;
        its pid. Its managed services and the proxy are left to themselves; ``stop()``
        ends what is left of them."""
        if self._proc is None:
            raise HubError("the hub is not running")
        os.kill(self._proc.pid, signal.SIGKILL)
        await self._proc.wait()
        return self._proc.pid

    async def wait_exit(self, timeout: float = 30) -> int:
        """Wait for the hub to exit by itself; its exit code."""
        if self._proc is None:
            raise HubError("the hub is not running")
        try:
            return await asyncio.wait_for(self._proc.wait(), timeout)
        except TimeoutError:
            raise HubError(f"hub still running after {timeout}s:\n{self.log_tail()}") from None

    async def restart(self) -> None:
        """Stop and start the hub again with the same database and ports."""
        await self.stop()
        await self.start()

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    # -- HTTP ------------------------------------------------------------------

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        """A cookie-keeping client for the hub's public URL, closed with the hub."""
        kwargs.setdefault("timeout", 60)
        client = httpx.AsyncClient(base_url=self.url, **kwargs)  # type: ignore[arg-type]
        self._clients.append(client)
        return client

    async def api(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        token: str | None = None,
        timeout: float = 60,
    ) -> httpx.Response:
        """Call the hub's REST API (``path`` below ``/hub/api``) as the admin service."""
        headers = {"Authorization": f"token {token or self.token}"}
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await client.request(method, f"{self.hub_api}{path}", json=json, headers=headers)

    async def login(
        self, username: str, password: str = "", client: httpx.AsyncClient | None = None
    ) -> httpx.AsyncClient:
        """Sign in through the login form; returns the client holding the cookies.

        The response of the form POST is kept as ``client.login_response``.
        """
        client = client or self.client()
        page = await client.get("/hub/login")
        xsrf = client.cookies.get("_xsrf") or _form_xsrf(page.text)
        resp = await client.post(
            "/hub/login",
            data={"username": username, "password": password, "_xsrf": xsrf or ""},
        )
        client.login_response = resp  # type: ignore[attr-defined]
        return client

    async def wait_for_server(
        self, user: str, server: str = "", *, ready: bool = True, timeout: float = 60
    ) -> dict:
        """Wait until a server reaches ``ready`` (or stopped when False); its model."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            resp = await self.api("GET", f"/users/{user}")
            resp.raise_for_status()
            model = resp.json()["servers"].get(server, {})
            if ready and model.get("ready"):
                return model
            if not ready and not model.get("pending") and not model.get("ready"):
                return model
            if asyncio.get_running_loop().time() > deadline:
                raise HubError(f"server {user}/{server} not in state ready={ready}: {model}")
            await asyncio.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _form_xsrf(html: str) -> str | None:
    match = re.search(r'name="_xsrf"\s+value="([^"]+)"', html)
    return match.group(1) if match else None


async def start_hub(workdir: Path, config: str = "", **kwargs: object) -> Hub:
    """Create and start a :class:`Hub` (see its arguments)."""
    hub = Hub(workdir, config, **kwargs)  # type: ignore[arg-type]
    try:
        await hub.start()
    except BaseException:
        await hub.stop()
        raise
    return hub
