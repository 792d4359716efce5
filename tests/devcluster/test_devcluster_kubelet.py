"""The kubelet: scheduling, processes, filesystems, status, deletion, the stub image."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import textwrap
from typing import Any

import pytest
from devcluster.devcluster_helpers import Api, is_ready, pod, pvc, wait_for
from tornado.httpclient import AsyncHTTPClient

from hubplugins_dev.devcluster.server import DevCluster

NS = "/api/v1/namespaces/default"


def gpu_pod(name: str, gpus: int) -> dict[str, Any]:
    return pod(name, resources={"limits": {"nvidia.com/gpu": str(gpus)}})


def scheduled(obj: Any) -> bool:
    return bool(obj and obj["spec"].get("nodeName"))


def unschedulable(obj: Any) -> bool:
    conds = {c["type"]: c for c in (obj or {}).get("status", {}).get("conditions", [])}
    return conds.get("PodScheduled", {}).get("status") == "False"


def terminated(obj: Any) -> bool:
    return bool(obj and obj["status"].get("phase") in ("Succeeded", "Failed"))


async def events_for(api: Api, name: str) -> list[dict[str, Any]]:
    _, listed = await api.call(
        "GET", f"{NS}/events", fieldSelector=f"involvedObject.kind=Pod,involvedObject.name={name}"
    )
    return listed["items"]


async def test_failed_scheduling_then_scheduled_when_capacity_frees(
    dev: DevCluster, api: Api
) -> None:
    await api.call("POST", f"{NS}/pods", gpu_pod("big", 2))
    await wait_for(dev, "pods", "big", is_ready)
    await api.call("POST", f"{NS}/pods", gpu_pod("waiting", 1))
    waiting = await wait_for(dev, "pods", "waiting", unschedulable)
    assert waiting["status"]["phase"] == "Pending" and "nodeName" not in waiting["spec"]
    warnings = [e for e in await events_for(api, "waiting") if e["reason"] == "FailedScheduling"]
    assert [e["message"] for e in warnings] == [
        "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    ]
    assert warnings[0]["type"] == "Warning" and "lastTimestamp" in warnings[0]
    await api.call("DELETE", f"{NS}/pods/big", gracePeriodSeconds=0)
    ready = await wait_for(dev, "pods", "waiting", is_ready)
    assert ready["spec"]["nodeName"] == "devcluster"
    reasons = [e["reason"] for e in await events_for(api, "waiting")]
    assert reasons == ["FailedScheduling", "Scheduled", "Started"]


async def test_pod_waits_for_its_claim(dev: DevCluster, api: Api) -> None:
    body = pod("needs-claim")
    body["spec"]["volumes"] = [{"name": "home", "persistentVolumeClaim": {"claimName": "later"}}]
    await api.call("POST", f"{NS}/pods", body)
    waiting = await wait_for(dev, "pods", "needs-claim", unschedulable)
    cond = next(c for c in waiting["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["message"] == 'persistentvolumeclaim "later" not found'
    await api.call("POST", f"{NS}/persistentvolumeclaims", pvc("later"))
    await wait_for(dev, "pods", "needs-claim", is_ready)


async def test_stub_answers_http_on_its_pod_ip(dev: DevCluster, api: Api) -> None:
    env = [{"name": "JUPYTERHUB_SERVICE_URL", "value": "http://0.0.0.0:9123/user/a/"}]
    await api.call("POST", f"{NS}/pods", pod("stub", env=env))
    ready = await wait_for(dev, "pods", "stub", is_ready)
    ip = ready["status"]["podIP"]
    assert ip.startswith(f"127.{dev.kubelet.ip_prefix}.")
    status = ready["status"]["containerStatuses"][0]
    assert {"name", "ready", "restartCount", "image", "imageID"} <= set(status)
    assert "running" in status["state"]
    for path in ("/user/a/", "/user/a/api/status"):
        response = await AsyncHTTPClient().fetch(f"http://{ip}:9123{path}")
        assert response.code == 200 and json.loads(response.body)["status"] == "ok"


async def test_pods_get_their_own_ips(dev: DevCluster, api: Api) -> None:
    for name in ("ip-a", "ip-b"):
        await api.call("POST", f"{NS}/pods", pod(name))
    a = await wait_for(dev, "pods", "ip-a", is_ready)
    b = await wait_for(dev, "pods", "ip-b", is_ready)
    assert a["status"]["podIP"] != b["status"]["podIP"]


SCRIPT = textwrap.dedent(
    """
    import json, os, pathlib, sys
    home = pathlib.Path(os.environ["HOME"])
    (home / "hello.txt").write_text("hi from the pod")
    key = (home / ".ssh" / "id_ed25519").read_text()
    print(json.dumps({"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv, "key": key}))
    """
)


def home_pod(name: str, script: str = SCRIPT, *args: str) -> dict[str, Any]:
    body = pod(
        name,
        image="quay.io/jupyter/base-notebook",
        command=[pathlib_python(), "-c", script],
        args=["--ip=0.0.0.0", *args],
        env=[
            {"name": "JUPYTERHUB_SERVICE_URL", "value": "http://0.0.0.0:8888/user/alice/"},
            {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "keys", "key": "token"}}},
        ],
        volumeMounts=[
            {"name": "home", "mountPath": "/home/jovyan"},
            {"name": "ssh", "mountPath": "/home/jovyan/.ssh"},
            {"name": "scratch", "mountPath": "/tmp/scratch"},
        ],
    )
    body["spec"]["volumes"] = [
        {"name": "home", "persistentVolumeClaim": {"claimName": "home-alice"}},
        {
            "name": "ssh",
            "secret": {
                "secretName": "keys",
                "defaultMode": 0o600,
                "items": [{"key": "private", "path": "id_ed25519"}],
            },
        },
        {"name": "scratch", "emptyDir": {}},
    ]
    return body


def exists(path: str) -> bool:
    return os.path.exists(path)


def real(path: object) -> str:
    return os.path.realpath(str(path))


def pathlib_python() -> str:
    return sys.executable


async def test_process_pod_home_volumes_env_and_log(dev: DevCluster, api: Api) -> None:
    await api.call("POST", f"{NS}/persistentvolumeclaims", pvc("home-alice"))
    secret = {"metadata": {"name": "keys"}, "stringData": {"private": "KEY", "token": "t0k"}}
    await api.call("POST", f"{NS}/secrets", secret)
    await api.call("POST", f"{NS}/pods", home_pod("alice"))
    done = await wait_for(dev, "pods", "alice", terminated)
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    backing = dev.cluster.volume_path("default", "home-alice")
    assert (backing / "hello.txt").read_text() == "hi from the pod"
    assert not (backing / ".ssh").exists(), "the nested secret link goes when the pod ends"
    code, log = await api.call("GET", f"{NS}/pods/alice/log")
    assert code == 200
    report = log if isinstance(log, dict) else json.loads(log.strip().splitlines()[-1])
    ip = done["status"]["podIP"]
    rootfs = dev.kubelet.runtimes[("default", "alice")].fs.rootfs
    env = report["env"]
    assert env["HOME"] == str(rootfs / "home/jovyan")
    assert report["cwd"] == real(env["HOME"]) == real(backing)
    assert env["MY_IP"] == ip and env["MY_NAME"] == "alice" and env["TOKEN"] == "t0k"
    assert env["JUPYTERHUB_SERVICE_URL"] == f"http://{ip}:8888/user/alice/"
    assert report["argv"][-1] == f"--ip={ip}"
    assert report["key"] == "KEY"
    assert (rootfs / "tmp/scratch").is_dir()


async def test_secret_volume_files_are_read_only(dev: DevCluster, api: Api) -> None:
    await api.call("POST", f"{NS}/persistentvolumeclaims", pvc("home-alice"))
    secret = {"metadata": {"name": "keys"}, "stringData": {"private": "KEY", "token": "t"}}
    await api.call("POST", f"{NS}/secrets", secret)
    script = "import time; print('up', flush=True); time.sleep(60)"
    await api.call("POST", f"{NS}/pods", home_pod("ro", script))
    await wait_for(dev, "pods", "ro", is_ready)
    key = dev.cluster.volume_path("default", "home-alice") / ".ssh" / "id_ed25519"
    assert key.read_text() == "KEY"
    assert stat.S_IMODE(key.stat().st_mode) == 0o400
    assert stat.S_IMODE(key.parent.resolve().stat().st_mode) == 0o555
    await api.call("DELETE", f"{NS}/pods/ro", gracePeriodSeconds=0)
    await wait_for(dev, "pods", "ro", lambda o: o is None)
    assert not key.parent.exists() and not key.parent.is_symlink()


@pytest.mark.parametrize(
    ("command", "phase", "code"),
    [
        ([sys.executable, "-c", "raise SystemExit(3)"], "Failed", 3),
        ([sys.executable, "-c", "pass"], "Succeeded", 0),
        (["no-such-command-here"], "Failed", 128),
    ],
    ids=["exit-3", "exit-0", "not-found"],
)
async def test_exit_codes(
    dev: DevCluster, api: Api, command: list[str], phase: str, code: int
) -> None:
    await api.call("POST", f"{NS}/pods", pod("exits", image="python", command=command))
    done = await wait_for(dev, "pods", "exits", terminated)
    assert done["status"]["phase"] == phase
    assert done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == code


STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    " print('up', flush=True); time.sleep(120)"
)


async def test_delete_honours_grace_then_kills(dev: DevCluster, api: Api) -> None:
    await api.call(
        "POST",
        f"{NS}/pods",
        pod("stubborn", image="python", command=[sys.executable, "-c", STUBBORN]),
    )
    await wait_for(dev, "pods", "stubborn", is_ready)
    _, listed = await api.call("GET", f"{NS}/pods")
    rv = listed["metadata"]["resourceVersion"]
    code, deleting = await api.call("DELETE", f"{NS}/pods/stubborn", {"gracePeriodSeconds": 1})
    assert code == 200 and deleting["metadata"]["deletionTimestamp"]
    await wait_for(dev, "pods", "stubborn", lambda o: o is None)
    events = await api.watch(f"{NS}/pods", resourceVersion=rv, timeoutSeconds=0.2)
    kinds = [(e["type"], "deletionTimestamp" in e["object"]["metadata"]) for e in events]
    assert kinds == [("MODIFIED", True), ("DELETED", True)]


async def test_readiness_delay(dev: DevCluster, api: Api) -> None:
    dev.kubelet.readiness_delay = 0.3
    _, listed = await api.call("GET", f"{NS}/pods")
    await api.call("POST", f"{NS}/pods", pod("slow"))
    await wait_for(dev, "pods", "slow", is_ready)
    events = await api.watch(
        f"{NS}/pods", resourceVersion=listed["metadata"]["resourceVersion"], timeoutSeconds=0.2
    )
    states = [
        (
            e["object"]["status"]["phase"],
            [c["ready"] for c in e["object"]["status"].get("containerStatuses", [])],
        )
        for e in events
    ]
    assert ("Running", [False]) in states and states[-1] == ("Running", [True])


async def test_hundred_stub_pods(dev: DevCluster, api: Api) -> None:
    dev.kubelet.capacity["pods"] = dev.kubelet.capacity["pods"].__class__(200)
    loop = asyncio.get_running_loop()
    started = loop.time()
    codes = await asyncio.gather(
        *(api.call("POST", f"{NS}/pods", pod(f"many-{i}"), timeout=120) for i in range(100))
    )
    assert {c for c, _ in codes} == {201}
    for i in range(100):
        await wait_for(dev, "pods", f"many-{i}", is_ready, timeout=120)
    print(f"100 stub pods ready in {loop.time() - started:.2f}s")
    ips = {
        dev.cluster.store.get("pods", "default", f"many-{i}")["status"]["podIP"] for i in range(100)
    }
    assert len(ips) == 100


async def test_configmap_subpath_and_empty_dir(dev: DevCluster, api: Api) -> None:
    await api.call("POST", f"{NS}/persistentvolumeclaims", pvc("shared"))
    config = {"metadata": {"name": "settings"}, "data": {"a.json": "{}", "b.txt": "b"}}
    await api.call("POST", f"{NS}/configmaps", config)
    body = pod(
        "mounts",
        image="devcluster/stub:1.0",
        volumeMounts=[
            {"name": "shared", "mountPath": "/home/jovyan", "subPath": "homes/alice"},
            {"name": "settings", "mountPath": "/etc/app"},
            {"name": "cache", "mountPath": "/home/jovyan/.cache"},
        ],
    )
    body["spec"]["volumes"] = [
        {"name": "shared", "persistentVolumeClaim": {"claimName": "shared"}},
        {
            "name": "settings",
            "configMap": {"name": "settings", "items": [{"key": "a.json", "path": "conf/a.json"}]},
        },
        {"name": "cache", "emptyDir": {}},
    ]
    await api.call("POST", f"{NS}/pods", body)
    await wait_for(dev, "pods", "mounts", is_ready)
    fs = dev.kubelet.runtimes[("default", "mounts")].fs
    home = dev.cluster.volume_path("default", "shared") / "homes" / "alice"
    assert real(fs.rootfs / "home/jovyan") == real(home)
    assert (fs.rootfs / "etc/app/conf/a.json").read_text() == "{}"
    assert not (fs.rootfs / "etc/app/b.txt").exists()
    cache = fs.rootfs / "home/jovyan/.cache"
    (cache / "x").write_text("scratch")
    cache_dir = real(cache)
    await api.call("DELETE", f"{NS}/pods/mounts", gracePeriodSeconds=0)
    await wait_for(dev, "pods", "mounts", lambda o: o is None)
    assert not (home / ".cache").is_symlink()
    assert not exists(cache_dir) and not fs.pod_dir.exists()
    assert home.is_dir()


async def test_missing_secret_keeps_pod_waiting(dev: DevCluster, api: Api) -> None:
    env = [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}]
    await api.call(
        "POST", f"{NS}/pods", pod("no-secret", image="python", command=["true"], env=env)
    )

    def waiting(obj: Any) -> bool:
        statuses = (obj or {}).get("status", {}).get("containerStatuses") or []
        return bool(
            statuses
            and "waiting" in statuses[0]["state"]
            and statuses[0]["state"]["waiting"]["reason"] != "ContainerCreating"
        )

    got = await wait_for(dev, "pods", "no-secret", waiting)
    assert got["status"]["phase"] == "Pending"
    assert (
        got["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
        == "CreateContainerConfigError"
    )
    await api.call("DELETE", f"{NS}/pods/no-secret")
    await wait_for(dev, "pods", "no-secret", lambda o: o is None)
