"""The unmodified KubeSpawner against a devcluster: stub and real single-user servers.

KubeSpawner keeps process-wide state: ``load_config`` is cached, the API client
is shared per event loop and the reflectors are class-level singletons keyed by
namespace. This module resets all three before and after itself, so it runs
against its own devcluster whatever ran before it.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import jupyterhub
import pytest
from kubernetes_asyncio.config import kube_config
from kubespawner import KubeSpawner, clients
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler
from traitlets.config import Config

from hubplugins_dev.devcluster.testing import DevClusterProcess, run_devcluster


@dataclass
class User:
    name: str
    id: int = 1

    @property
    def url(self) -> str:
        return f"/user/{self.name}/"


@dataclass
class Hub:
    api_url: str = "http://127.0.0.1:9/hub/api"
    public_host: str = ""
    url: str = "http://127.0.0.1:9/hub/"
    base_url: str = "/hub/"


class FakeHubAPI(RequestHandler):
    """Just enough hub API for a single-user server to start: its version, and 200s."""

    def check_xsrf_cookie(self) -> None:
        pass

    def prepare(self) -> None:
        self.set_header("X-JupyterHub-Version", jupyterhub.__version__)
        self.set_header("Content-Type", "application/json")
        self.finish("{}")


@pytest.fixture
async def fake_hub() -> AsyncIterator[Hub]:
    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(Application([(r"/.*", FakeHubAPI)]))
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    yield Hub(api_url=f"http://127.0.0.1:{port}/hub/api", url=f"http://127.0.0.1:{port}/hub/")
    server.stop()
    await server.close_all_connections()


async def _reset_kubespawner() -> None:
    await KubeSpawner._stop_all_reflectors()
    clients._client_cache.clear()
    clients.load_config.cache_clear()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterProcess]:
    # kubernetes_asyncio reads KUBECONFIG once, at import: point both at the devcluster
    with (
        run_devcluster(tmp_path_factory.mktemp("dc-kubespawner")) as dev,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setenv("KUBECONFIG", str(dev.kubeconfig))
        mp.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(dev.kubeconfig))
        yield dev


@pytest.fixture
async def make_spawner(cluster: DevClusterProcess) -> AsyncIterator[object]:
    await _reset_kubespawner()
    await asyncio.to_thread(cluster.control.reset_counts)

    def make(user: str, image: str, hub: Hub | None = None, **config: object) -> KubeSpawner:
        c = Config()
        c.KubeSpawner.image = image
        c.KubeSpawner.namespace = "default"
        c.KubeSpawner.storage_pvc_ensure = True
        c.KubeSpawner.storage_capacity = "1Gi"
        c.KubeSpawner.start_timeout = 60
        c.KubeSpawner.volumes = [
            {"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
        ]
        c.KubeSpawner.volume_mounts = [{"name": "home", "mountPath": "/home/jovyan"}]
        for key, value in config.items():
            setattr(c.KubeSpawner, key, value)
        return KubeSpawner(
            config=c, user=User(user), hub=hub or Hub(), api_token="token", oauth_client_id="client"
        )

    yield make
    await _reset_kubespawner()


async def get_when_up(url: str, timeout: float = 60) -> int:
    """GET ``url`` until the server answers (as JupyterHub's wait_up does); the status."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.05

    def fetch() -> int:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as e:
            return e.code

    while True:
        try:
            return await asyncio.to_thread(fetch)
        except (urllib.error.URLError, ConnectionError):
            if loop.time() > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)


async def test_stub_spawn_poll_stop_delete_forever(
    cluster: DevClusterProcess, make_spawner: object
) -> None:
    spawner = make_spawner("kube-stub", "devcluster/stub")
    url = await spawner.start()
    assert url.startswith("http://127.")
    assert await get_when_up(url + "/user/kube-stub/api/status") == 200
    assert await spawner.poll() is None
    control = cluster.control
    counts = await asyncio.to_thread(control.counts)
    assert counts["create/persistentvolumeclaims"] == 1
    assert counts["create/pods"] == 1
    volume = await asyncio.to_thread(control.volume_path, "default", spawner.pvc_name)
    assert volume is not None
    await spawner.stop()
    assert await spawner.poll() == 1
    pods = await asyncio.to_thread(control.objects, "pods")
    assert spawner.pod_name not in [p["metadata"]["name"] for p in pods]
    await spawner.delete_forever()
    assert await asyncio.to_thread(control.volume_path, "default", spawner.pvc_name) is None
    counts = await asyncio.to_thread(control.counts)
    assert counts["delete/pods"] == 1 and counts["delete/persistentvolumeclaims"] == 1


async def test_services_owned_by_the_pod_go_with_it(
    cluster: DevClusterProcess, make_spawner: object
) -> None:
    spawner = make_spawner("kube-svc", "devcluster/stub", services_enabled=True)
    await spawner.start()
    services = await asyncio.to_thread(cluster.control.objects, "services")
    assert spawner.pod_name in [s["metadata"]["name"] for s in services]
    await spawner.stop()
    services = await asyncio.to_thread(cluster.control.objects, "services")
    assert spawner.pod_name not in [s["metadata"]["name"] for s in services]
    await spawner.delete_forever()


async def test_real_singleuser_on_its_pod_ip_keeps_files(
    cluster: DevClusterProcess, make_spawner: object, fake_hub: Hub
) -> None:
    spawner = make_spawner(
        "kube-real", "quay.io/jupyter/base-notebook", fake_hub, cmd=["jupyterhub-singleuser"]
    )
    url = await spawner.start()
    ip = url.split("//")[1].split(":")[0]
    assert ip.startswith("127.") and ip != "127.0.0.1"
    pods = await asyncio.to_thread(cluster.control.objects, "pods")
    pod = next(p for p in pods if p["metadata"]["name"] == spawner.pod_name)
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX") or "/"
    assert await get_when_up(f"{url}{prefix}api") == 200
    volume = await asyncio.to_thread(cluster.control.volume_path, "default", spawner.pvc_name)
    rootfs = await asyncio.to_thread(cluster.control.pod_rootfs, "default", spawner.pod_name)
    assert volume is not None and rootfs is not None
    # the home dir of the pod is the claim's backing dir
    (rootfs / "home/jovyan/note.txt").write_text("kept")
    assert (volume / "note.txt").read_text() == "kept"
    await spawner.stop()
    assert (volume / "note.txt").read_text() == "kept"
    await spawner.delete_forever()


async def test_user_namespaces(cluster: DevClusterProcess, make_spawner: object) -> None:
    spawner = make_spawner(
        "kube-ns",
        "devcluster/stub",
        enable_user_namespaces=True,
        user_namespace_template="user-{username}",
    )
    url = await spawner.start()
    assert await get_when_up(url + "/") == 200
    assert spawner.namespace == "user-kube-ns"
    control = cluster.control
    namespaces = await asyncio.to_thread(control.objects, "namespaces")
    assert "user-kube-ns" in [n["metadata"]["name"] for n in namespaces]
    assert await asyncio.to_thread(control.volume_path, "user-kube-ns", spawner.pvc_name)
    counts = await asyncio.to_thread(control.counts)
    assert counts["create/namespaces"] == 1 and counts["watch/pods"] >= 1
    await spawner.stop()
    await spawner.delete_forever()
    assert await asyncio.to_thread(control.volume_path, "user-kube-ns", spawner.pvc_name) is None
