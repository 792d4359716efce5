"""The directory's TLS checks the server's name the standard library's way.

ldap3's own check (``ssl.match_hostname``, gone in Python 3.12) refused IP
addresses on the hub image's Python. Each case runs in both test environments
(Python 3.11 and the hub image's 3.12), against a TLS server whose certificate
names ``localhost`` and ``127.0.0.1``.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.hub import VENVS
from services.ldap_servers import TlsFiles, make_tls

SRC = Path(__file__).resolve().parents[2] / "src"

# host the client asks for -> the handshake holds
CASES = {
    "ip-address-in-certificate": ("127.0.0.1", True),
    "dns-name-in-certificate": ("localhost", True),
    "address-not-in-certificate": ("127.0.0.2", False),
}

CLIENT = textwrap.dedent(
    """
    import socket, sys, types
    from hubplugins.auth.ldap_tls import CheckedTls

    host, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    connection = types.SimpleNamespace(
        socket=socket.create_connection((host, port), timeout=10),
        server=types.SimpleNamespace(host=host),
    )
    try:
        CheckedTls(ca_certs_file=ca).wrap_socket(connection, do_handshake=True)
    except OSError as e:  # ssl.SSLCertVerificationError among them
        print("refused", type(e).__name__)
    else:
        print("held")
        connection.socket.close()
    """
)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls(tmp_path_factory.mktemp("ldap-tls"))


def _serve(tls: TlsFiles, host: str) -> Iterator[int]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tls.cert, tls.key)
    listener = socket.create_server((host, 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(10)
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except OSError:
                pass  # the client refused the certificate

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize("series", sorted(VENVS))
@pytest.mark.parametrize("case", list(CASES))
def test_host_names_and_addresses(tls: TlsFiles, case: str, series: str) -> None:
    host, holds = CASES[case]
    python = VENVS[series] / "bin" / "python"
    listen = "127.0.0.2" if host == "127.0.0.2" else "127.0.0.1"
    for port in _serve(tls, listen):
        out = subprocess.run(
            [str(python), "-c", CLIENT, host, str(port), str(tls.ca)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PYTHONPATH": str(SRC), "PATH": str(Path(sys.executable).parent)},
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[0] == ("held" if holds else "refused"), out.stdout
