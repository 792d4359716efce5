"""Real directory servers for tests and benchmarks: OpenLDAP ``slapd`` and a Samba AD DC.

* ``make_tls(dir)``: a throwaway CA and a server certificate for ``localhost`` and
  ``127.0.0.1`` (one CA for every server, so clients validate certificates).
* ``Slapd``: slapd with its own slapd.conf and an mdb database in a temp dir, on
  free loopback ports (``ldap://`` with StartTLS and ``ldaps://``).
* ``SambaDC``: ``samba-tool domain provision`` once (cached between runs, keyed by
  the recipe), users and groups made with ``samba-tool``, then ``samba`` started in
  its own network namespace. Samba's LDAP ports are fixed (389/636), so inside the
  namespace it has them to itself, and ``netns_relay`` forwards free ports on the
  host's loopback to them: nothing else on the machine sees a fixed port.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls(directory: Path) -> TlsFiles:
    """A CA and a server certificate (SAN: localhost, 127.0.0.1), PEM files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, csr = directory / "server.pem", directory / "server.key", directory / "server.csr"
    ext = directory / "san.ext"
    ext.write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )
    _quiet(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2".split(),
        ["-subj", "/CN=hubplugins test CA", "-keyout", ca_key, "-out", ca],
    )
    _quiet(
        "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost".split(),
        ["-keyout", key, "-out", csr],
    )
    _quiet(
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial"],
        ["-days", "2", "-extfile", ext, "-out", cert],
    )
    key.chmod(0o600)
    return TlsFiles(ca, cert, key)


def _quiet(*parts: list) -> None:
    cmd = [str(c) for part in parts for c in part]
    subprocess.run(cmd, check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 30) -> None:
    """Return once 127.0.0.1:port accepts a connection (the server process is up)."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


# -- OpenLDAP ------------------------------------------------------------------------

SLAPD_SUFFIX = "dc=example,dc=org"
SLAPD_ROOT_DN = f"cn=admin,{SLAPD_SUFFIX}"
SLAPD_ROOT_PW = "root-secret"
SLAPD_SERVICE_DN = f"cn=hubsvc,ou=service,{SLAPD_SUFFIX}"
SLAPD_SERVICE_PW = "svc-secret"

SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {tls.ca}
TLSCertificateFile {tls.cert}
TLSCertificateKeyFile {tls.key}
sizelimit 1000
database mdb
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_pw}
directory {dir}/db
maxsize 67108864
access to attrs=userPassword by anonymous auth by self read by * none
access to * by dn.exact="{service_dn}" read by users read by * none
"""


@dataclass
class Slapd:
    """A running slapd: ``ldap_url`` (StartTLS), ``ldaps_url``, ``stop()``."""

    workdir: Path
    tls: TlsFiles
    ldif: str
    ldap_port: int = 0
    ldaps_port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def ldap_url(self) -> str:
        return f"ldap://127.0.0.1:{self.ldap_port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def start(self) -> Slapd:
        (self.workdir / "db").mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "slapd.conf"
        conf.write_text(
            SLAPD_CONF.format(
                dir=self.workdir,
                tls=self.tls,
                suffix=SLAPD_SUFFIX,
                root_dn=SLAPD_ROOT_DN,
                root_pw=SLAPD_ROOT_PW,
                service_dn=SLAPD_SERVICE_DN,
            )
        )
        data = self.workdir / "data.ldif"
        data.write_text(self.ldif)
        _quiet(["slapadd", "-q", "-f", conf, "-l", data])
        for _attempt in range(5):
            self.ldap_port, self.ldaps_port = free_port(), free_port()
            urls = f"{self.ldap_url}/ {self.ldaps_url}/"
            log = open(self.workdir / "slapd.log", "wb")
            self.proc = subprocess.Popen(
                ["slapd", "-d", "0", "-f", str(conf), "-h", urls],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            try:
                wait_for_port(self.ldaps_port, self.proc)
                wait_for_port(self.ldap_port, self.proc)
                return self
            except RuntimeError:
                continue  # a port was taken meanwhile: try two others
        raise RuntimeError(f"slapd did not start; see {self.workdir / 'slapd.log'}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- Samba AD ---------------------------------------------------------------------------

SAMBA_REALM = "AD.EXAMPLE.ORG"
SAMBA_DOMAIN = "ADEX"
SAMBA_BASE = "DC=ad,DC=example,DC=org"
SAMBA_ADMIN_PW = "Adm1n-Passw0rd!"


@dataclass
class SambaRecipe:
    """What to create in a fresh domain: users (name -> password), groups, disabled users."""

    users: dict[str, str]
    groups: dict[str, list[str]]  # group -> members (users or groups)
    disabled: list[str] = field(default_factory=list)
    distribution: dict[str, list[str]] = field(default_factory=dict)  # distribution groups

    def key(self) -> str:
        version = subprocess.run(["samba", "-V"], capture_output=True, text=True).stdout
        text = repr((version, SAMBA_REALM, SAMBA_DOMAIN, SAMBA_ADMIN_PW, self))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "hubplugins-tests"


def _provision(target: Path, recipe: SambaRecipe) -> None:
    empty = target.parent / f"{target.name}.empty.conf"
    empty.write_text("")
    _quiet(
        ["samba-tool", "domain", "provision", f"--targetdir={target}"],
        [f"--realm={SAMBA_REALM}", f"--domain={SAMBA_DOMAIN}", "--server-role=dc"],
        ["--dns-backend=NONE", f"--adminpass={SAMBA_ADMIN_PW}", "--host-name=dc1"],
        ["-s", empty, "--option=interfaces=lo", "--option=bind interfaces only=yes"],
    )
    empty.unlink()
    local = ["-H", f"tdb://{target}/private/sam.ldb", "-s", str(target / "etc" / "smb.conf")]
    for user, password in recipe.users.items():
        _quiet(["samba-tool", "user", "create", user, password, *local])
    for group in recipe.groups:
        _quiet(["samba-tool", "group", "add", group, *local])
    for group, members in recipe.groups.items():
        if members:
            _quiet(["samba-tool", "group", "addmembers", group, ",".join(members), *local])
    for group, members in recipe.distribution.items():
        _quiet(["samba-tool", "group", "add", group, "--group-type=Distribution", *local])
        _quiet(["samba-tool", "group", "addmembers", group, ",".join(members), *local])
    for user in recipe.disabled:
        _quiet(["samba-tool", "user", "disable", user, *local])


def provisioned_domain(recipe: SambaRecipe, workdir: Path) -> Path:
    """A copy of the provisioned domain in ``workdir/dc``; provisions once per recipe."""
    cache = _cache_root() / f"samba-{recipe.key()}"
    cache.parent.mkdir(parents=True, exist_ok=True)
    # one provision at a time on the machine: parallel runs and workers wait for it
    with open(cache.parent / f"{cache.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cache / "ready").exists():
            building = Path(tempfile.mkdtemp(prefix="samba-build-", dir=cache.parent))
            _provision(building / "dc", recipe)
            (building / "dc" / "ready").write_text(str(building / "dc"))
            try:
                (building / "dc").rename(cache)
            except OSError:  # another run finished first: use theirs
                pass
            shutil.rmtree(building, ignore_errors=True)
    target = workdir / "dc"
    shutil.copytree(cache, target, symlinks=True)
    conf = target / "etc" / "smb.conf"
    provisioned_at = (cache / "ready").read_text()  # the absolute paths smb.conf names
    conf.write_text(conf.read_text().replace(provisioned_at, str(target)))
    return target


@dataclass
class SambaDC:
    """A running Samba AD DC in its own network namespace, reached via loopback relays."""

    workdir: Path
    tls: TlsFiles
    recipe: SambaRecipe
    ldap_port: int = 0
    ldaps_port: int = 0
    proc: subprocess.Popen | None = None
    sockets: list[socket.socket] = field(default_factory=list)

    @property
    def ldap_url(self) -> str:
        return f"ldap://127.0.0.1:{self.ldap_port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def start(self) -> SambaDC:
        target = provisioned_domain(self.recipe, self.workdir)
        for _ in range(2):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(128)
            self.sockets.append(s)
        self.ldap_port, self.ldaps_port = (s.getsockname()[1] for s in self.sockets)
        samba = ["samba", "-i", "-s", str(target / "etc" / "smb.conf")]
        (target / "run").mkdir(exist_ok=True)
        samba += [
            # its own run directory and only the LDAP service: several test runs (each
            # with its own DC in its own network namespace) on one machine
            f"--option=pid directory={target / 'run'}",
            f"--option=ncalrpc dir={target / 'run' / 'ncalrpc'}",
            "--option=server services=ldap",
            "--option=tls enabled=yes",
            f"--option=tls keyfile={self.tls.key}",
            f"--option=tls certfile={self.tls.cert}",
            f"--option=tls cafile={self.tls.ca}",
        ]
        fds = [s.fileno() for s in self.sockets]
        relay = [sys.executable, str(HERE / "netns_relay.py")]
        relay += ["--listen", f"{fds[0]}:389", "--listen", f"{fds[1]}:636"]
        relay += ["--log", str(self.workdir / "samba.log"), "--", *samba]
        self.proc = subprocess.Popen(
            ["unshare", "--net", *relay],
            pass_fds=fds,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the relay says "ready" once samba listens
        if line.strip() != b"ready":
            self.stop()
            raise RuntimeError(f"samba did not start; see {self.workdir / 'samba.log'}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()  # the relay stops samba and exits
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        for s in self.sockets:
            s.close()
