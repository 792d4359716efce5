"""Directory fixtures: one OpenLDAP and one Samba AD DC shared by the whole session.

Samba's provisioned domain is cached between runs (see ``services.ldap_servers``).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from auth_directory.directory_data import (
    LDAP_USER_FILTER,
    SAMBA_RECIPE,
    DirectoryUnderTest,
    slapd_ldif,
)
from services.ldap_servers import (
    SAMBA_ADMIN_PW,
    SAMBA_BASE,
    SLAPD_ROOT_DN,
    SLAPD_ROOT_PW,
    SLAPD_SERVICE_DN,
    SLAPD_SERVICE_PW,
    SLAPD_SUFFIX,
    SambaDC,
    Slapd,
    TlsFiles,
    make_tls,
)

from hubplugins.auth.directory import DirectoryAuthenticator

SERVICE_PASSWORD = SAMBA_RECIPE.users["hubsvc"]


@pytest.fixture(scope="session")
def directory_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls(tmp_path_factory.mktemp("directory-tls"))


@pytest.fixture(scope="session")
def openldap(
    tmp_path_factory: pytest.TempPathFactory, directory_tls: TlsFiles
) -> Iterator[DirectoryUnderTest]:
    server = Slapd(tmp_path_factory.mktemp("slapd"), directory_tls, slapd_ldif()).start()
    try:
        yield DirectoryUnderTest(
            kind="openldap",
            server=server,
            tls=directory_tls,
            config={
                "directory_type": "ldap",
                "server_urls": [server.ldap_url],
                "tls_ca_file": str(directory_tls.ca),
                "service_account_dn": SLAPD_SERVICE_DN,
                "service_account_password": SLAPD_SERVICE_PW,
                "user_search_base": f"ou=people,{SLAPD_SUFFIX}",
                "user_search_filter": LDAP_USER_FILTER,
                "group_search_base": f"ou=groups,{SLAPD_SUFFIX}",
                "domains": ["example.org", "EXAMPLE"],
            },
            admin_dn=SLAPD_ROOT_DN,
            admin_pw=SLAPD_ROOT_PW,
            people=f"ou=people,{SLAPD_SUFFIX}",
            groups=f"ou=groups,{SLAPD_SUFFIX}",
            domains=("example.org", "EXAMPLE"),
        )
    finally:
        server.stop()


@pytest.fixture(scope="session")
def samba(
    tmp_path_factory: pytest.TempPathFactory, directory_tls: TlsFiles
) -> Iterator[DirectoryUnderTest]:
    if shutil.which("samba") is None or shutil.which("samba-tool") is None:
        pytest.skip("Samba AD DC not installed (./dev setup installs it)")
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("Samba runs in its own network namespace: needs `unshare --net` (root)")
    server = SambaDC(tmp_path_factory.mktemp("samba"), directory_tls, SAMBA_RECIPE).start()
    try:
        under_test = DirectoryUnderTest(
            kind="samba",
            server=server,
            tls=directory_tls,
            config={
                "directory_type": "ad",
                "server_urls": [server.ldaps_url],
                "tls_ca_file": str(directory_tls.ca),
                "service_account_dn": "hubsvc@ad.example.org",
                "service_account_password": SERVICE_PASSWORD,
                "user_search_base": SAMBA_BASE,
                "group_search_base": f"CN=Users,{SAMBA_BASE}",
                "domains": ["ad.example.org", "ADEX"],
            },
            admin_dn="Administrator@ad.example.org",
            admin_pw=SAMBA_ADMIN_PW,
            people=f"CN=Users,{SAMBA_BASE}",
            groups=f"CN=Users,{SAMBA_BASE}",
            domains=("ad.example.org", "ADEX"),
        )
        under_test.seed_ad_extras()
        yield under_test
    finally:
        server.stop()


@pytest.fixture(params=["openldap", "samba"])
def directory(request: pytest.FixtureRequest) -> DirectoryUnderTest:
    """Each test that takes this runs against both directories."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
async def shared_authenticators() -> AsyncIterator[dict[str, DirectoryAuthenticator]]:
    """Authenticators by configuration, shared by the session (each holds worker processes)."""
    made: dict[str, DirectoryAuthenticator] = {}
    yield made
    for authenticator in made.values():
        await authenticator.close()


async def _started(authenticator: DirectoryAuthenticator) -> DirectoryAuthenticator:
    """``authenticator`` once its worker processes have started (or failed to).

    The authenticator starts its workers as it is made; a test that is refused before the
    directory is asked (an injected username) would otherwise end with that start still
    running, in a task the session's authenticator owns.
    """
    warmup = getattr(authenticator, "_warmup", None)
    if warmup is not None:
        await asyncio.wait([warmup])
    return authenticator


@pytest.fixture
def make_authenticator(
    shared_authenticators: dict[str, DirectoryAuthenticator],
) -> Callable[..., Awaitable[DirectoryAuthenticator]]:
    """``await make_authenticator(**traits)`` -> a DirectoryAuthenticator with its workers
    started; the same traits give the same instance for the whole session, so its workers
    start once."""

    async def _make(**traits: Any) -> DirectoryAuthenticator:
        key = repr(sorted((k, repr(v)) for k, v in traits.items()))
        if key not in shared_authenticators:
            shared_authenticators[key] = DirectoryAuthenticator(**traits)
        return await _started(shared_authenticators[key])

    return _make


@pytest.fixture
async def shared_authenticator(
    directory: DirectoryUnderTest, shared_authenticators: dict[str, DirectoryAuthenticator]
) -> DirectoryAuthenticator:
    """``allow_all`` + ``manage_groups`` on ``directory``, shared by the session."""
    import logging

    if directory.kind not in shared_authenticators:
        shared_authenticators[directory.kind] = DirectoryAuthenticator(
            **directory.config,
            allow_all=True,
            manage_groups=True,
            worker_processes=1,
            log=logging.getLogger("test.directory"),
        )
    return await _started(shared_authenticators[directory.kind])
