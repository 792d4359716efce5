"""One hub per JupyterHub series for the usage tests, and a local webhook receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness.hub import Hub, start_hub
from harness.ports import free_port
from tornado import web
from tornado.httpserver import HTTPServer

from hubplugins.lifecycle import LIFECYCLE_SCOPES

LIFECYCLE_TOKEN = "usage-lifecycle-token-0123456789"
POLICY = {
    "defaults": {
        "idle": {"stop_after": "2h", "delete_after": "7d", "delete_notice": "1d"},
        "resources": {"gpu": {"default": 0, "max": 0}},
        "quota": {"cpu": 4, "memory": "8G", "gpu": 0},
    },
    "groups": {
        "gpu-users": {"resources": {"gpu": {"max": 2}}, "quota": {"gpu": 2}},
        "keepers": {"idle": {"allow_keep": True}},
        "long": {"idle": {"delete_after": "30d"}},
    },
    "cluster": {"gpu_pool": {"nvidia.com/gpu": 4}},
}
CONFIG = f"""
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.storage_pvc_ensure = True
c.KubeSpawner.volumes = [
    {{"name": "home", "persistentVolumeClaim": {{"claimName": "{{pvc_name}}"}}}}
]
c.KubeSpawner.volume_mounts = [{{"name": "home", "mountPath": "/home/jovyan"}}]
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
# the lifecycle service runs in the test process, with its role's scopes and endpoint
from hubplugins.lifecycle.endpoint import setup_endpoint
setup_endpoint(c)
c.JupyterHub.services.append({{"name": "usage-lifecycle", "api_token": {LIFECYCLE_TOKEN!r}}})
c.JupyterHub.load_roles.append(
    {{"name": "usage-lifecycle", "scopes": {LIFECYCLE_SCOPES!r}, "services": ["usage-lifecycle"]}}
)
"""


@pytest.fixture(scope="package", params=["6", "5.5"], ids=["jh6", "jh55"])
async def usage_hub(
    request: pytest.FixtureRequest, devcluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Hub]:
    workdir: Path = tmp_path_factory.mktemp(f"usagehub{request.param}")
    hub = await start_hub(
        workdir, CONFIG, jupyterhub=request.param, kubeconfig=devcluster.kubeconfig
    )
    yield hub
    await hub.stop()


class Receiver:
    """A webhook on loopback that keeps each JSON body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.arrived = asyncio.Event()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/notices"

    def app(self) -> web.Application:
        receiver = self

        class Handler(web.RequestHandler):
            def post(self) -> None:
                receiver.bodies.append(json.loads(self.request.body))
                receiver.arrived.set()
                self.set_status(204)

        return web.Application([(r"/notices", Handler)])


@pytest.fixture
async def webhook() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = HTTPServer(receiver.app())
    server.listen(receiver.port, "127.0.0.1")
    try:
        yield receiver
    finally:
        server.stop()
