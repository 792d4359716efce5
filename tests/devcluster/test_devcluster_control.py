"""The CLI, the control API and its Python client, and the kubernetes_asyncio client."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from devcluster.devcluster_helpers import is_ready, wait_for
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import watch as k8s_watch

from hubplugins_dev.devcluster.server import DevCluster
from hubplugins_dev.devcluster.testing import DevClusterProcess, arun_devcluster, run_devcluster


def call(
    url: str, method: str, path: str, body: Any = None, timeout: float = 10
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


CM = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(scope="module")
def proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterProcess]:
    with run_devcluster(tmp_path_factory.mktemp("dc"), capacity={"cpu": "4"}) as dev:
        yield dev


def test_cli_writes_kubeconfig(proc: DevClusterProcess) -> None:
    config = json.loads(proc.kubeconfig.read_text())
    assert proc.kubeconfig == proc.root / "kubeconfig"
    assert config["current-context"] == "devcluster"
    assert config["clusters"][0]["cluster"]["server"] == proc.url
    assert config["contexts"][0]["context"]["namespace"] == "default"
    assert config["users"][0]["user"]["token"]
    assert proc.control.info()["capacity"]["cpu"] == "4"


@pytest.mark.parametrize(
    ("fault", "codes"),
    [
        ({"status": 500, "count": 2}, [500, 500, 201]),
        ({"status": 409, "count": 1}, [409, 201, 409]),
        ({"status": 0, "count": 1, "delay": 0.05}, [201, 409, 409]),
        ({"status": 500, "count": 3, "namespace": "other"}, [201, 409, 409]),
    ],
    ids=["500-twice", "409-once", "delay-only", "other-namespace"],
)
def test_faults_and_counts(
    proc: DevClusterProcess, fault: dict[str, Any], codes: list[int]
) -> None:
    control = proc.control
    control.clear_faults()
    call(proc.url, "DELETE", f"{CM}/faulty")
    control.reset_counts()
    control.fail("create", "configmaps", **fault)
    got = [call(proc.url, "POST", CM, {"metadata": {"name": "faulty"}})[0] for _ in codes]
    assert got == codes
    assert control.count("create", "configmaps") == len(codes)
    assert control.counts() == {"create/configmaps": len(codes)}


def test_fault_status_body(proc: DevClusterProcess) -> None:
    proc.control.fail("get", "pods", status=500)
    code, status = call(proc.url, "GET", "/api/v1/namespaces/default/pods/x")
    assert (code, status["kind"], status["reason"]) == (500, "Status", "InternalError")
    assert call(proc.url, "GET", "/api/v1/namespaces/default/pods/x")[0] == 404


def test_delay_longer_than_client_timeout(proc: DevClusterProcess) -> None:
    proc.control.fail("list", "secrets", status=0, delay=1.0)
    with pytest.raises(TimeoutError):
        call(proc.url, "GET", "/api/v1/namespaces/default/secrets", timeout=0.2)
    proc.control.clear_faults()


def test_counts_by_verb(proc: DevClusterProcess) -> None:
    control = proc.control
    control.reset_counts()
    call(proc.url, "POST", CM, {"metadata": {"name": "verbs"}})
    call(proc.url, "GET", f"{CM}/verbs")
    call(proc.url, "GET", f"{CM}?labelSelector=")
    call(proc.url, "GET", f"{CM}?watch=1&timeoutSeconds=0")
    call(proc.url, "PUT", f"{CM}/verbs", {"metadata": {"name": "verbs"}, "data": {"a": "b"}})
    call(proc.url, "PATCH", f"{CM}/verbs", {"data": {"c": "d"}})
    call(proc.url, "DELETE", f"{CM}/verbs")
    assert control.counts() == {
        f"{verb}/configmaps": 1
        for verb in ("create", "get", "list", "watch", "update", "patch", "delete")
    }


def test_volumes_objects_rootfs(proc: DevClusterProcess) -> None:
    control = proc.control
    claim = {
        "metadata": {"name": "vol-a"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    assert (
        call(proc.url, "POST", "/api/v1/namespaces/default/persistentvolumeclaims", claim)[0] == 201
    )
    path = control.volume_path("default", "vol-a")
    assert path == proc.root.resolve() / "volumes" / "default" / "vol-a" and path.is_dir()
    assert control.volume_path("default", "nope") is None
    assert "default/vol-a" in control.volumes()
    assert [o["metadata"]["name"] for o in control.objects("namespaces")] == ["default"]
    assert control.pod_rootfs("default", "nope") is None
    control.set_readiness_delay(0)


def alive(pid: int) -> bool:
    """Running, not a zombie nobody reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_until(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


@pytest.mark.parametrize(
    ("sig", "exit_code"),
    [(signal.SIGTERM, 0), (signal.SIGINT, 0), (signal.SIGKILL, -signal.SIGKILL)],
    ids=["sigterm", "sigint", "sigkill"],
)
def test_devcluster_exit_takes_pod_processes_with_it(
    tmp_path: Path, sig: int, exit_code: int
) -> None:
    dev = run_devcluster(tmp_path / "dc")
    script = (
        "import os, pathlib, time; p = pathlib.Path(os.environ['HOME']);"
        " (p / 'pid.tmp').write_text(str(os.getpid())); (p / 'pid.tmp').rename(p / 'pid');"
        " time.sleep(300)"
    )
    container = {"name": "notebook", "image": "python", "command": [sys.executable, "-c", script]}
    body = {"metadata": {"name": "sleeper"}, "spec": {"containers": [container]}}
    assert call(dev.url, "POST", "/api/v1/namespaces/default/pods", body)[0] == 201
    found: list[Path] = []

    def pid_written() -> bool:
        rootfs = dev.control.pod_rootfs("default", "sleeper")
        if rootfs is not None and (rootfs / "home/jovyan/pid").exists():
            found.append(rootfs / "home/jovyan/pid")
        return bool(found)

    wait_until(pid_written, "the pod never wrote its pid")
    pid = int(found[0].read_text())
    assert alive(pid)
    assert dev.process is not None
    dev.process.send_signal(sig)
    assert dev.process.wait(30) == exit_code
    dev.stop()
    wait_until(lambda: not alive(pid), "the pod process outlived the devcluster")


async def test_kubernetes_asyncio_client(dev: DevCluster) -> None:
    config = k8s.Configuration(host=dev.url)
    async with k8s.ApiClient(configuration=config) as api_client:
        v1 = k8s.CoreV1Api(api_client)
        pod = k8s.V1Pod(
            metadata=k8s.V1ObjectMeta(name="typed", labels={"component": "singleuser-server"}),
            spec=k8s.V1PodSpec(
                containers=[k8s.V1Container(name="notebook", image="devcluster/stub")]
            ),
        )
        created = await v1.create_namespaced_pod("default", pod)
        assert created.metadata.uid
        await wait_for(dev, "pods", "typed", is_ready)
        pods = await v1.list_namespaced_pod(
            "default", label_selector="component=singleuser-server", field_selector=""
        )
        status = pods.items[0].status
        assert status.phase == "Running" and status.container_statuses[0].ready
        events = await v1.list_namespaced_event("default", field_selector="involvedObject.kind=Pod")
        assert [e.reason for e in events.items] == ["Scheduled", "Started"]
        seen = []
        w = k8s_watch.Watch()
        async with w.stream(
            v1.list_namespaced_pod, "default", resource_version="0", timeout_seconds=1
        ) as stream:
            async for event in stream:
                seen.append((event["type"], event["object"].metadata.name))
        assert seen == [("ADDED", "typed")]
        await v1.delete_namespaced_pod(
            "typed",
            "default",
            body=k8s.V1DeleteOptions(grace_period_seconds=0),
            grace_period_seconds=0,
        )
        await wait_for(dev, "pods", "typed", lambda o: o is None)
        with pytest.raises(k8s.ApiException) as info:
            await v1.read_namespaced_pod("typed", "default")
        assert info.value.status == 404


async def test_async_helper(tmp_path: Path) -> None:
    async with arun_devcluster(tmp_path / "dc", capacity={"nvidia.com/gpu": 0}) as dev:
        info = await asyncio.to_thread(dev.control.info)
        assert info["capacity"]["nvidia.com/gpu"] == "0"
        assert dev.kubeconfig.exists() and dev.url.startswith("http://127.0.0.1:")
    assert dev.process is None


async def test_kubernetes_asyncio_watch_sees_410(dev: DevCluster) -> None:
    dev.cluster.store.history_size = 1
    async with k8s.ApiClient(configuration=k8s.Configuration(host=dev.url)) as api_client:
        v1 = k8s.CoreV1Api(api_client)
        for i in range(4):
            await v1.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
        w = k8s_watch.Watch()
        with pytest.raises(k8s.ApiException) as info:
            async with w.stream(
                v1.list_namespaced_config_map, "default", resource_version="1", timeout_seconds=1
            ) as stream:
                async for _ in stream:
                    pass
        assert info.value.status == 410
