"""100 concurrent sign-ins through a real hub's login form, ours against ldapauthenticator.

Real OpenLDAP (slapd, StartTLS) behind a loopback proxy that adds ``--delay``
seconds each way (default 50 ms, so a 100 ms round trip). For each authenticator
in turn, a JupyterHub 6 hub is started and measured:

* one sign-in's latency (form POST, median of 5, sequential), beside the floor of
  its network round trips;
* a storm of ``--users`` concurrent sign-ins (login page + form POST each): total time;
* the hub's ``GET /hub/api/`` latency during the storm, probed every 25 ms (p50, p99).

Run: ``.venv/bin/python benchmarks/ldap_login.py`` (about a minute and a half).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness.hub import Hub, _form_xsrf, start_hub  # noqa: E402
from services.ldap_servers import (  # noqa: E402
    SLAPD_SERVICE_DN,
    SLAPD_SERVICE_PW,
    SLAPD_SUFFIX,
    Slapd,
    make_tls,
)

PEOPLE, GROUPS = f"ou=people,{SLAPD_SUFFIX}", f"ou=groups,{SLAPD_SUFFIX}"
PASSWORD = "Bench-Passw0rd!"


def ldif(users: int) -> str:
    entries = [
        f"dn: {SLAPD_SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
        "o: Example\ndc: example",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
        f"dn: ou=service,{SLAPD_SUFFIX}\nobjectClass: organizationalUnit\nou: service",
        f"dn: {SLAPD_SERVICE_DN}\nobjectClass: person\ncn: hubsvc\nsn: svc\n"
        f"userPassword: {SLAPD_SERVICE_PW}",
    ]
    names = [f"user{i:03d}" for i in range(users)]
    for name in names:
        entries.append(
            f"dn: uid={name},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: {name}\n"
            f"sn: {name}\nuserPassword: {PASSWORD}"
        )
    members = "".join(f"\nmember: uid={n},{PEOPLE}" for n in names)
    entries.append(f"dn: cn=staff,{GROUPS}\nobjectClass: groupOfNames\ncn: staff{members}")
    return "\n\n".join(entries) + "\n"


COMMON = """
c.JupyterHub.log_level = "INFO"
c.Authenticator.allow_all = False
"""


def ours(port: int, ca: Path) -> str:
    return (
        COMMON
        + f"""
c.JupyterHub.authenticator_class = "directory"
c.DirectoryAuthenticator.directory_type = "ldap"
c.DirectoryAuthenticator.server_urls = ["ldap://127.0.0.1:{port}"]
c.DirectoryAuthenticator.tls_ca_file = {str(ca)!r}
c.DirectoryAuthenticator.service_account_dn = {SLAPD_SERVICE_DN!r}
c.DirectoryAuthenticator.service_account_password = {SLAPD_SERVICE_PW!r}
c.DirectoryAuthenticator.user_search_base = {PEOPLE!r}
c.DirectoryAuthenticator.group_search_base = {GROUPS!r}
c.DirectoryAuthenticator.allowed_groups = {{"staff"}}
"""
    )


def upstream(port: int, ca: Path) -> str:
    return (
        COMMON
        + f"""
c.JupyterHub.authenticator_class = "ldapauthenticator.LDAPAuthenticator"
c.LDAPAuthenticator.server_address = "127.0.0.1"
c.LDAPAuthenticator.server_port = {port}
c.LDAPAuthenticator.tls_strategy = "before_bind"
c.LDAPAuthenticator.tls_kwargs = {{"ca_certs_file": {str(ca)!r}, "validate": 2}}
c.LDAPAuthenticator.bind_dn_template = ["uid={{username}},{PEOPLE}"]
c.LDAPAuthenticator.allowed_groups = ["cn=staff,{GROUPS}"]
c.LDAPAuthenticator.group_search_filter = "(member={{userdn}})"
c.LDAPAuthenticator.group_attributes = ["member"]
"""
    )


def floor(port: int, ca: Path) -> str:
    """The hub alone: a password check in memory, no directory."""
    return f"""
c.JupyterHub.log_level = "INFO"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allow_all = True
"""


SSL = ssl.create_default_context()  # one context for every client: cheap clients


async def timed_login(hub: Hub, username: str) -> tuple[float, int]:
    """(seconds of the form POST, its status) with a fresh client."""
    async with httpx.AsyncClient(base_url=hub.url, timeout=300, verify=SSL) as client:
        page = await client.get("/hub/login")
        xsrf = client.cookies.get("_xsrf") or _form_xsrf(page.text) or ""
        started = time.perf_counter()
        resp = await client.post(
            "/hub/login", data={"username": username, "password": PASSWORD, "_xsrf": xsrf}
        )
        return time.perf_counter() - started, resp.status_code


async def storm_login(client: httpx.AsyncClient, username: str) -> int:
    page = await client.get("/hub/login")
    xsrf = client.cookies.get("_xsrf") or _form_xsrf(page.text) or ""
    data = {"username": username, "password": PASSWORD, "_xsrf": xsrf}
    return (await client.post("/hub/login", data=data)).status_code


PROBE = """
import json, sys, threading, time, urllib.request
url, stop, samples = sys.argv[1], threading.Event(), []
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
print("ready", flush=True)
while not stop.is_set():
    t = time.perf_counter()
    urllib.request.urlopen(url, timeout=300).read()
    took = time.perf_counter() - t
    samples.append(took)
    stop.wait(max(0.0, 0.025 - took))
print(json.dumps(samples), flush=True)
"""


async def start_probe(hub: Hub) -> asyncio.subprocess.Process:
    """GET /hub/api/ every 25 ms from its own process, so our load does not skew it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROBE,
        f"{hub.hub_api}/",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    await proc.stdout.readline()
    return proc


async def stop_probe(proc: asyncio.subprocess.Process) -> list[float]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    line = await proc.stdout.readline()
    await proc.wait()
    return json.loads(line)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(name: str, config: str, workdir: Path, users: int) -> dict:
    hub = await start_hub(workdir, config, jupyterhub="6")
    try:
        # the accounts exist in the hub already (a class signing in again, say): the storm
        # measures sign-in, not JupyterHub creating 100 users
        names = [f"user{i:03d}" for i in range(max(users, 6))]
        resp = await hub.api("POST", "/users", json={"usernames": names})
        assert resp.status_code == 201, resp.text
        await timed_login(hub, "user000")  # warm-up: workers, connections, imports
        singles = []
        for i in range(5):
            took, status = await timed_login(hub, f"user{i + 1:03d}")
            assert status == 302, f"{name}: sign-in failed ({status}):\n{hub.log_tail()}"
            singles.append(took)
        clients = [
            httpx.AsyncClient(base_url=hub.url, timeout=300, verify=SSL) for _ in range(users)
        ]
        prober = await start_probe(hub)
        await asyncio.sleep(0.1)  # a few probes before the storm, as a baseline
        started = time.perf_counter()
        statuses = await asyncio.gather(
            *(storm_login(c, f"user{i:03d}") for i, c in enumerate(clients))
        )
        storm = time.perf_counter() - started
        samples = await stop_probe(prober)
        for client in clients:
            await client.aclose()
        results = [(0.0, status) for status in statuses]
        failed = sum(1 for _, status in results if status != 302)
        return {
            "name": name,
            "single": statistics.median(singles),
            "storm": storm,
            "failed": failed,
            "probe_p50": pct(samples, 0.5),
            "probe_p99": pct(samples, 0.99),
            "probes": len(samples),
        }
    finally:
        await hub.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added each way")
    parser.add_argument("--only", choices=["floor", "ours", "upstream"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ldap-bench-"))
    tls = make_tls(work / "tls")
    slapd = Slapd(work / "slapd", tls, ldif(max(args.users, 6))).start()
    proxy_script = str(ROOT / "tests/services/latency_proxy.py")
    proxy = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measurement
        [sys.executable, proxy_script, str(slapd.ldap_port), str(args.delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proxy.stdout is not None
        port = int(proxy.stdout.readline())
        runs = [
            ("hub alone (dummy auth)", floor),
            ("hubplugins", ours),
            ("ldapauthenticator 2.0.2", upstream),
        ]
        if args.only:
            runs = [r for r in runs if r[1].__name__ == args.only]
        results = []
        for name, make in runs:
            workdir = work / make.__name__
            results.append(await measure(name, make(port, tls.ca), workdir, args.users))
    finally:
        if proxy.stdin is not None:
            proxy.stdin.close()
        proxy.wait(10)
        slapd.stop()
    rtt = 2 * args.delay
    print(
        f"\n{args.users} concurrent sign-ins, OpenLDAP + StartTLS, {rtt * 1000:.0f} ms round trip"
    )
    print(f"{'':26}{'storm total':>12}{'api p50':>10}{'api p99':>10}{'1 sign-in':>11}{'failed':>8}")
    for r in results:
        print(
            f"{r['name']:26}{r['storm']:>11.2f}s{r['probe_p50'] * 1000:>8.0f}ms"
            f"{r['probe_p99'] * 1000:>8.0f}ms{r['single'] * 1000:>9.0f}ms{r['failed']:>8}"
        )
    by_name = {r["name"].split()[0]: r for r in results}
    if "hubplugins" in by_name and "ldapauthenticator" in by_name:
        ratio = by_name["ldapauthenticator"]["storm"] / by_name["hubplugins"]["storm"]
        print(f"storm time, ldapauthenticator / hubplugins: {ratio:.1f}x")
    print(
        f"floor of one hubplugins sign-in: 2 round trips = {2 * rtt * 1000:.0f} ms "
        "(user search, then bind and group search at once, on kept TLS connections)"
    )


if __name__ == "__main__":
    asyncio.run(main())
