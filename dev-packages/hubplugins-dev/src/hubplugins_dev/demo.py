"""``hubplugins-demo``: a working hub on this machine, on the bundled devcluster.

It starts the devcluster (a local Kubernetes API whose pods are local
processes), then JupyterHub with configurable-http-proxy on
http://127.0.0.1:8000, configured by :func:`configure_demo` with
:class:`~hubplugins.PolicySpawner` and an example policy, prints how to sign
in, and stops everything it started on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

# The example policy: the defaults of the policy reference, a GPU beta group
# and a 4-GPU pool. Sign in as "alice" for the defaults, "bob" for gpu-beta.
DEMO_POLICY: dict[str, Any] = {
    "defaults": {
        "servers": {"max_named": 5, "max_running": 3, "name_max_length": 20},
        "idle": {"stop_after": "2h", "delete_after": None},
        "resources": {
            "cpu": {"guarantee": 0.5, "limit": 1, "max": 1},
            "memory": {"guarantee": "1G", "limit": "2G", "max": "2G"},
            "gpu": {"default": 0, "max": 0},
        },
        "quota": {"cpu": 2, "memory": "4G", "gpu": 0},
        "storage": {
            "capacity": "2Gi",
            "scope": "server",
            "mount_path": "/home/jovyan",
            "delete_with_server": True,
        },
        "profiles": ["cpu"],
        "ssh_keys": False,
    },
    "groups": {
        "gpu-beta": {
            "resources": {"gpu": {"max": 2}, "memory": {"max": "32G"}},
            "quota": {"gpu": 2, "memory": "64G"},
            "profiles": ["*"],
        },
    },
    "cluster": {"gpu_pool": {"nvidia.com/gpu": 4}},
}

DEMO_PROFILES: list[dict[str, Any]] = [
    {
        "display_name": "CPU",
        "slug": "cpu",
        "description": "Python with the scientific stack.",
        "default": True,
        "kubespawner_override": {"image": "quay.io/jupyter/scipy-notebook:2025-01-06"},
    },
    {
        "display_name": "GPU (CUDA)",
        "slug": "gpu",
        "description": "The CUDA image variant on a GPU node; asks for 1 GPU.",
        "kubespawner_override": {
            "image": "quay.io/jupyter/pytorch-notebook:cuda12-2025-01-06",
            "extra_resource_limits": {"nvidia.com/gpu": "1"},
            "node_selector": {"hubplugins.io/gpu": "true"},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            ],
        },
    },
]

DEMO_USERS = {"alice": "defaults", "bob": "gpu-beta"}
DEMO_PASSWORD = "demo"


def configure_demo(c: Any) -> None:
    """Configure ``c`` (a traitlets Config) as the demo hub.

    Reads ``HUBPLUGINS_DEMO_STATE`` (work directory), ``HUBPLUGINS_DEMO_IP``,
    ``HUBPLUGINS_DEMO_PORT`` and ``HUBPLUGINS_DEMO_HUB_PORT`` set by
    :func:`main`; ``KUBECONFIG`` points at the devcluster.
    """
    import hubplugins

    state = Path(os.environ.get("HUBPLUGINS_DEMO_STATE", ".demo")).resolve()
    hub_port = int(os.environ.get("HUBPLUGINS_DEMO_HUB_PORT", "8081"))
    c.JupyterHub.ip = os.environ.get("HUBPLUGINS_DEMO_IP", "127.0.0.1")
    c.JupyterHub.port = int(os.environ.get("HUBPLUGINS_DEMO_PORT", "8000"))
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = hub_port
    c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
    c.ConfigurableHTTPProxy.command = [_proxy_command()]

    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = DEMO_PASSWORD
    c.Authenticator.allowed_users = set(DEMO_USERS)
    c.Authenticator.admin_users = {"admin"}
    c.JupyterHub.load_groups = {"gpu-beta": {"users": ["bob"]}}

    c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
    c.KubeSpawner.namespace = "default"
    c.KubeSpawner.cmd = ["jupyterhub-singleuser"]
    c.KubeSpawner.hub_connect_url = f"http://127.0.0.1:{hub_port}"
    c.KubeSpawner.profile_list = DEMO_PROFILES
    c.KubeSpawner.start_timeout = 120
    c.KubeSpawner.http_timeout = 120
    c.HubPolicy.policy = DEMO_POLICY
    hubplugins.setup(c)


def _proxy_command() -> str:
    """configurable-http-proxy from the project's node_modules, else from PATH."""
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        candidate = base / "node_modules" / ".bin" / "configurable-http-proxy"
        if candidate.exists():
            return str(candidate)
    return shutil.which("configurable-http-proxy") or "configurable-http-proxy"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hubplugins-demo", description=__doc__)
    parser.add_argument("--ip", default="127.0.0.1", help="address to serve on")
    parser.add_argument("--port", type=int, default=8000, help="port to serve on")
    parser.add_argument(
        "--state-dir",
        default=".demo",
        help="where the hub database, the devcluster and its volumes live (kept across runs)",
    )
    args = parser.parse_args(argv)

    from hubplugins_dev.devcluster.testing import run_devcluster

    state = Path(args.state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    # the devcluster's pods run jupyterhub-singleuser from this environment
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    config = state / "jupyterhub_config.py"
    config.write_text(
        "from hubplugins_dev.demo import configure_demo\nconfigure_demo(get_config())\n"
    )
    with run_devcluster(state / "devcluster") as cluster:
        env = dict(os.environ)
        env.update(
            KUBECONFIG=str(cluster.kubeconfig),
            HUBPLUGINS_DEMO_STATE=str(state),
            HUBPLUGINS_DEMO_IP=args.ip,
            HUBPLUGINS_DEMO_PORT=str(args.port),
            HUBPLUGINS_DEMO_HUB_PORT=str(_free_port()),
        )
        hub_cmd = [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config)]
        hub = subprocess.Popen(hub_cmd, cwd=state, env=env, start_new_session=True)
        url = f"http://{args.ip}:{args.port}"
        try:
            if not _wait_for(f"{url}/hub/api/", hub, timeout=60):
                print("The hub did not start; see its log above.", file=sys.stderr)
                return 1
            users = ", ".join(f"{u} ({tier})" for u, tier in DEMO_USERS.items())
            print(
                f"\nhubplugins-demo is running at {url}\n"
                f"Sign in as one of {users} with the password {DEMO_PASSWORD!r}.\n"
                f"Kubernetes API (devcluster): {cluster.url}, kubeconfig {cluster.kubeconfig}\n"
                "Press Ctrl-C to stop everything.\n",
                flush=True,
            )
            signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
            hub.wait()
            return hub.returncode or 0
        except KeyboardInterrupt:
            return 0
        finally:
            if hub.poll() is None:
                os.killpg(hub.pid, signal.SIGTERM)
                try:
                    hub.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(hub.pid, signal.SIGKILL)
            _stop_proxy(state / "proxy.pid")
            print("demo stopped", file=sys.stderr)


def _stop_proxy(pid_file: Path) -> None:
    """Stop the proxy the hub left (JupyterHub starts it in a session of its own,
    so that it outlives the hub, and a hub that was killed never stops it)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
