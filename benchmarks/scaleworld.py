"""The scale benchmark's world: a hub database of N users and their running pods.

One real start through a real hub (PolicySpawner on the devcluster) gives
the templates: the database schema of the JupyterHub series, a user's rows
(user, role assignment, server, spawner with its saved state, OAuth client)
and the pod KubeSpawner made. The N users are then written straight into a
copy of that database with SQLAlchemy Core, copying the template's rows
column by column (so the same code fits both series' schemas), and the
running servers' pods are created in the devcluster from the template pod.
Setting up is not measured; everything measured goes through the real hub.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

TEMPLATE_USER = "tmpl"
RUNNING_IDLE = timedelta(hours=2)  # an idle running server: past stop_after (1 h)
RUNNING_BUSY = timedelta(minutes=1)  # a running server in use


def user_name(i: int) -> str:
    return f"u{i:06d}"


def server_names(count: int) -> list[str]:
    """The default server and ``count - 1`` named ones."""
    return ["", *(f"nb{k}" for k in range(1, count))]


def _iso(when: datetime) -> datetime:
    return when.replace(tzinfo=None)  # JupyterHub stores naive UTC


def _rows(conn: sa.Connection, table: sa.Table, **where: Any) -> list[dict[str, Any]]:
    query = sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
    return [dict(r._mapping) for r in conn.execute(query)]


def _without_id(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "id"}


def _chunks(rows: list[dict[str, Any]], size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def build_database(
    template_db: Path,
    target: Path,
    *,
    users: int,
    servers: int,
    pod_ips: dict[str, str],
    idle: int | None = None,
) -> None:
    """Copy ``template_db`` to ``target`` and add ``users`` users of ``servers`` servers.

    The default servers of the first ``len(pod_ips)`` users run at their pod's
    address (``pod_ips``: user name -> pod IP), the first ``idle`` of them (all
    when None) idle 2 h, the others last active a minute ago; every
    other server is stopped, last active 1 to 29 days ago. The template user
    is removed, so that the hub holds exactly the users written here.
    """
    shutil.copyfile(template_db, target)
    engine = sa.create_engine(f"sqlite:///{target}")
    meta = sa.MetaData()
    meta.reflect(engine)
    t_users, t_spawners, t_servers = (
        meta.tables["users"],
        meta.tables["spawners"],
        meta.tables["servers"],
    )
    t_roles, t_clients = meta.tables["user_role_map"], meta.tables["oauth_clients"]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        user = _rows(conn, t_users, name=TEMPLATE_USER)[0]
        spawner = _rows(conn, t_spawners, user_id=user["id"], name="")[0]
        server = _rows(conn, t_servers, id=spawner["server_id"])[0]
        client = _rows(conn, t_clients, identifier=spawner["oauth_client_id"])[0]
        role_rows = _rows(conn, t_roles, user_id=user["id"])
        state = (
            json.loads(spawner["state"]) if isinstance(spawner["state"], str) else spawner["state"]
        )
        # the template user goes: what references it goes with it
        for table in meta.sorted_tables[::-1]:
            for col in table.c:
                if any(fk.column is t_users.c.id for fk in col.foreign_keys):
                    conn.execute(table.delete().where(col == user["id"]))
        conn.execute(t_spawners.delete().where(t_spawners.c.user_id == user["id"]))
        conn.execute(t_servers.delete().where(t_servers.c.id == server["id"]))
        conn.execute(t_clients.delete().where(t_clients.c.identifier == client["identifier"]))
        conn.execute(t_users.delete().where(t_users.c.id == user["id"]))

        first_id = (
            int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t_users.c.id), 0))).scalar())
            + 1
        )
        user_rows, role_rows_new, spawner_rows, server_rows, client_rows = [], [], [], [], []
        names = server_names(servers)
        for i in range(users):
            uid = first_id + i
            name = user_name(i)
            is_running = name in pod_ips
            since = RUNNING_IDLE if idle is None or i < idle else RUNNING_BUSY
            row = _without_id(user)
            row.update(id=uid, name=name, cookie_id=f"c{uid:08d}", admin=False)
            if "created" in row:
                row["created"] = _iso(now - timedelta(days=60))
            row["last_activity"] = _iso(now - (since if is_running else timedelta(days=1)))
            user_rows.append(row)
            for role in role_rows:
                role_rows_new.append({**role, "user_id": uid})
            for k, sname in enumerate(names):
                srow = _without_id(spawner)
                srow.update(user_id=uid, name=sname, server_id=None, oauth_client_id=None)
                if sname == "" and is_running:
                    sid = len(server_rows) + 1
                    server_rows.append(
                        {
                            **_without_id(server),
                            "id": sid,
                            "ip": pod_ips[name],
                            "base_url": f"/user/{name}/",
                        }
                    )
                    pod = f"jupyter-{name}"
                    saved = {
                        **state,
                        "pod_name": pod,
                        "dns_name": f"{pod}.default.svc.cluster.local",
                    }
                    saved["pvc_name"] = f"claim-{name}"
                    client_id = f"jupyterhub-user-{name}"
                    client_rows.append(
                        {
                            **_without_id(client),
                            "identifier": client_id,
                            "description": f"Server at /user/{name}/",
                            "redirect_uri": f"/user/{name}/oauth_callback",
                            "allowed_scopes": json.dumps([f"access:servers!server={name}/"]),
                        }
                    )
                    srow.update(server_id=sid, state=json.dumps(saved), oauth_client_id=client_id)
                    srow["started"] = _iso(now - RUNNING_IDLE)
                    srow["last_activity"] = _iso(now - since)
                else:
                    srow.update(state="{}", started=None)
                    srow["last_activity"] = _iso(now - timedelta(days=1 + (i * 7 + k) % 28))
                spawner_rows.append(srow)
        # the template's own server id may be taken by the new ones: ids start after the max
        base = int(
            conn.execute(sa.select(sa.func.coalesce(sa.func.max(t_servers.c.id), 0))).scalar()
        )
        for srow_server in server_rows:
            srow_server["id"] += base
        for srow in spawner_rows:
            if srow["server_id"] is not None:
                srow["server_id"] += base
        for table, rows in (
            (t_users, user_rows),
            (t_roles, role_rows_new),
            (t_servers, server_rows),
            (t_clients, client_rows),
            (t_spawners, spawner_rows),
        ):
            for chunk in _chunks(rows):
                conn.execute(table.insert(), chunk)
    engine.dispose()


def pod_template(pod: dict[str, Any]) -> dict[str, Any]:
    """The template user's pod as a manifest to create again under other names."""
    meta = pod["metadata"]
    keep = {k: meta[k] for k in ("labels", "annotations") if meta.get(k)}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": keep, "spec": pod["spec"]}


def pod_for(template: dict[str, Any], name: str) -> dict[str, Any]:
    pod = copy.deepcopy(template)
    pod["metadata"]["name"] = f"jupyter-{name}"
    labels = pod["metadata"].setdefault("labels", {})
    labels["hub.jupyter.org/username"] = name
    annotations = pod["metadata"].setdefault("annotations", {})
    annotations["hub.jupyter.org/username"] = name
    for container in pod["spec"]["containers"]:
        for env in container.get("env") or []:
            if env.get("name") == "JUPYTERHUB_USER":
                env["value"] = name
    return pod


async def create_pods(api_url: str, template: dict[str, Any], names: list[str]) -> dict[str, str]:
    """Create the running users' pods; wait until every one is Running. Their IPs by user."""
    base = f"{api_url}/api/v1/namespaces/default/pods"
    headers = {"Authorization": "Bearer devcluster"}
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(timeout=120, limits=limits, headers=headers) as client:
        gate = asyncio.Semaphore(16)

        async def one(name: str) -> None:
            async with gate:
                resp = await client.post(base, json=pod_for(template, name))
                if resp.status_code not in (200, 201, 409):
                    raise RuntimeError(f"pod for {name}: {resp.status_code} {resp.text[:200]}")

        await asyncio.gather(*(one(n) for n in names))
        wanted = {f"jupyter-{n}" for n in names}
        while True:
            resp = await client.get(base, params={"labelSelector": "component=singleuser-server"})
            items = resp.json()["items"]
            running = {
                p["metadata"]["name"]: p["status"].get("podIP", "")
                for p in items
                if p.get("status", {}).get("phase") == "Running"
                and not p["metadata"].get("deletionTimestamp")
            }
            if wanted <= running.keys():
                return {n: running[f"jupyter-{n}"] for n in names}
            await asyncio.sleep(0.5)


async def pod_count(api_url: str) -> int:
    """Pods labelled as single-user servers, deleting ones included."""
    async with httpx.AsyncClient(
        timeout=60, headers={"Authorization": "Bearer devcluster"}
    ) as client:
        resp = await client.get(
            f"{api_url}/api/v1/namespaces/default/pods",
            params={"labelSelector": "component=singleuser-server"},
        )
        return len(resp.json()["items"])
