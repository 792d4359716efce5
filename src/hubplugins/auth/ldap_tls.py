"""TLS for directory connections, with the standard library's host name check.

ldap3 2.9 turns the standard library's check off and checks the server's name
itself with ``ssl.match_hostname``, which Python 3.12 removed; its fallback
accepts no IP address, so on the hub image's Python a directory reached as
``ldaps://10.0.0.5`` with that address in its certificate was refused.
:class:`CheckedTls` lets :class:`ssl.SSLContext` do the check (DNS names and
IP addresses alike, during the handshake) on every Python the package
supports.
"""

from __future__ import annotations

import ssl
from typing import Any

from ldap3 import Tls


class CheckedTls(Tls):  # type: ignore[misc]
    """ldap3's :class:`~ldap3.Tls` verifying the chain and the host name with the
    standard library (``check_hostname``); only CA settings are used."""

    def __init__(self, ca_certs_file: str | None = None) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_certs_file)

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cafile=self.ca_certs_file,
            capath=self.ca_certs_path,
            cadata=self.ca_certs_data,
        )
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        connection.socket = self.context().wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=connection.server.host,
        )
