"""DirectoryAuthenticator against real OpenLDAP and Samba AD, called directly."""

from __future__ import annotations

import logging

import pytest
from auth_directory.directory_data import PASSWORDS, UPN_SUFFIX, closed_port_url
from tornado import web

from hubplugins.auth.directory import UNAVAILABLE_MESSAGE, DirectoryAuthenticator
from hubplugins.policy.rules.sign_in import ACCOUNT_MESSAGES

# under ./dev test these modules share one worker, so Samba starts once
pytestmark = pytest.mark.xdist_group("samba")

LOG = logging.getLogger("test.directory")


class FakeUser:
    """What refresh_user reads from a JupyterHub user."""

    def __init__(self, name: str, auth_state: dict | None) -> None:
        self.name = name
        self._state = auth_state

    async def get_auth_state(self) -> dict | None:
        return self._state


async def _auth(make, directory, **extra):
    config = {**directory.config, "manage_groups": True, "log": LOG, "worker_processes": 1, **extra}
    return await make(**config)


SIGN_IN_CASES = {
    # case: (typed username, password, expected JupyterHub name or None)
    "plain": ("alice", PASSWORDS["alice"], "alice"),
    "uppercase": ("ALICE", PASSWORDS["alice"], "alice"),
    "surrounding-spaces": ("  alice ", PASSWORDS["alice"], "alice"),
    "upn": ("alice@{dns}", PASSWORDS["alice"], "alice"),
    "upn-uppercase-domain": ("Alice@{DNS}", PASSWORDS["alice"], "alice"),
    "netbios": ("{nb}\\alice", PASSWORDS["alice"], "alice"),
    "wrong-password": ("alice", "not-the-password", None),
    "other-users-password": ("alice", PASSWORDS["bob"], None),
    "empty-password": ("alice", "", None),
    "whitespace-password": ("alice", "   ", None),
    "unknown-domain": ("alice@evil.example.com", PASSWORDS["alice"], None),
    "unknown-netbios": ("EVIL\\alice", PASSWORDS["alice"], None),
    "unknown-user": ("nobody", "whatever-Passw0rd", None),
    "empty-username": ("", PASSWORDS["alice"], None),
    "overlong-username": ("a" * 300, PASSWORDS["alice"], None),
}


@pytest.mark.parametrize("case", SIGN_IN_CASES)
async def test_sign_in(case, directory, shared_authenticator):
    typed, password, expected = SIGN_IN_CASES[case]
    dns, nb = directory.domains
    typed = typed.format(dns=dns, DNS=dns.upper(), nb=nb)
    auth = shared_authenticator
    model = await auth.get_authenticated_user(None, {"username": typed, "password": password})
    assert (model or {}).get("name") == expected


INJECTIONS = {
    "star": "*",
    "close-paren-or": ")(uid=*",
    "or-objectclass": "*)(|(objectClass=*",
    "backslash": "\\",
    "trailing-backslash": "alice\\",
    "comma": "alice,ou=people",
    "dn-injection": "alice,cn=admins",
    "nul": "alice\x00",
    "star-suffix": "al*",
    "cyrillic-a": "\u0430lice",
    "fullwidth": "\uff41lice",
    "sam-star": "*)(sAMAccountName=*",
}


@pytest.mark.parametrize("case", INJECTIONS)
async def test_injection_never_signs_in(case, shared_authenticator):
    auth = shared_authenticator
    for password in (PASSWORDS["alice"], "*", "x"):
        data = {"username": INJECTIONS[case], "password": password}
        assert await auth.get_authenticated_user(None, data) is None


@pytest.mark.parametrize("case", INJECTIONS)
async def test_injection_in_dn_templates(case, openldap, make_authenticator):
    config = {k: v for k, v in openldap.config.items() if not k.startswith("service_")}
    auth = await make_authenticator(
        **config, bind_templates=[f"uid={{username}},{openldap.people}"], log=LOG
    )
    data = {"username": INJECTIONS[case], "password": PASSWORDS["alice"]}
    assert await auth.authenticate(None, data) is None


GROUP_CASES = {
    # case: (user, groups that must be there, groups that must not)
    "direct": ("alice", {"staff", "admins"}, {"team-a"}),
    "nested-once": ("bob", {"team-a", "staff", "gpu-beta"}, {"admins"}),
    "nested-twice": ("carol", {"team-a-sub", "team-a", "staff"}, {"gpu-beta"}),
    "no-groups": ("dave", set(), {"staff"}),
}


@pytest.mark.parametrize("case", GROUP_CASES)
async def test_groups(case, shared_authenticator):
    user, present, absent = GROUP_CASES[case]
    auth = shared_authenticator
    model = await auth.get_authenticated_user(None, {"username": user, "password": PASSWORDS[user]})
    groups = set(model["groups"])
    assert present <= groups
    assert not absent & groups
    if not present:
        assert groups <= {"Domain Users"}


async def test_group_cycle_is_cut(openldap, make_authenticator):
    auth = await _auth(make_authenticator, openldap, allow_all=True)
    model = await auth.authenticate(None, {"username": "alice", "password": PASSWORDS["alice"]})
    assert {"cycle-1", "cycle-2"} <= set(model["groups"])


async def test_group_depth_bound(openldap, make_authenticator):
    auth = await _auth(make_authenticator, openldap, allow_all=True, group_nesting_depth=1)
    model = await auth.authenticate(None, {"username": "carol", "password": PASSWORDS["carol"]})
    assert model["groups"] == ["team-a-sub"]


async def test_group_mapping(directory, make_authenticator):
    auth = await _auth(
        make_authenticator,
        directory,
        allow_all=True,
        group_allow_list=["staff", "GPU-beta"],
        group_rename={"gpu-beta": "gpu"},
    )
    model = await auth.authenticate(None, {"username": "bob", "password": PASSWORDS["bob"]})
    assert model["groups"] == ["gpu", "staff"]
    assert "team-a" in model["auth_state"]["directory_groups"]
    assert model["auth_state"]["dn"].lower() == directory.user_dn("bob").lower()


ACCESS_CASES = {
    # case: (user, allowed, admin)
    "admin-by-group": ("alice", True, True),
    "allowed-by-nested-group": ("carol", True, False),
    "allowed-by-second-group": ("bob", True, False),
    "not-in-allowed-groups": ("dave", False, False),
}


@pytest.mark.parametrize("case", ACCESS_CASES)
async def test_allowed_and_admin_groups(case, directory, make_authenticator):
    user, allowed, admin = ACCESS_CASES[case]
    auth = await _auth(
        make_authenticator,
        directory,
        allowed_groups={"Staff"},
        admin_groups={"admins"},
    )
    data = {"username": user, "password": PASSWORDS[user]}
    model = await auth.get_authenticated_user(None, data)
    assert (model is not None) == allowed
    if model is not None:
        assert model["admin"] is admin


async def test_disabled_account_is_refused(samba, make_authenticator):
    auth = await _auth(make_authenticator, samba, allow_all=True)
    with pytest.raises(web.HTTPError) as info:
        await auth.authenticate(None, {"username": "erin", "password": PASSWORDS["erin"]})
    assert info.value.status_code == 403
    assert info.value.log_message == ACCOUNT_MESSAGES["disabled"]
    assert info.value.reason == "directory.account"


async def test_failover_to_second_server(directory, make_authenticator):
    urls = [closed_port_url(), *directory.config["server_urls"]]
    auth = await _auth(make_authenticator, directory, allow_all=True, server_urls=urls)
    for _ in range(3):
        model = await auth.authenticate(None, {"username": "bob", "password": PASSWORDS["bob"]})
        assert model["name"] == "bob"


async def test_all_servers_down_is_503(directory, make_authenticator, caplog):
    urls = [closed_port_url(), closed_port_url("ldap")]
    auth = await _auth(make_authenticator, directory, allow_all=True, server_urls=urls)
    with pytest.raises(web.HTTPError) as info:
        await auth.authenticate(None, {"username": "bob", "password": PASSWORDS["bob"]})
    assert info.value.status_code == 503
    assert info.value.log_message == UNAVAILABLE_MESSAGE


async def test_untrusted_certificate_is_unavailable(directory, make_authenticator):
    auth = await _auth(make_authenticator, directory, allow_all=True, tls_ca_file=None)
    with pytest.raises(web.HTTPError) as info:
        await auth.authenticate(None, {"username": "bob", "password": PASSWORDS["bob"]})
    assert info.value.status_code == 503


async def test_bind_template_without_service_account(directory, make_authenticator):
    config = {k: v for k, v in directory.config.items() if not k.startswith("service_")}
    if directory.kind == "samba":
        template = "{username}@ad.example.org"
    else:
        template = f"uid={{username}},{directory.people}"
    auth = await make_authenticator(
        **config, bind_templates=[template], manage_groups=True, log=LOG
    )
    model = await auth.authenticate(None, {"username": "CAROL", "password": PASSWORDS["carol"]})
    assert model["name"] == "carol"
    assert {"team-a-sub", "team-a", "staff"} <= set(model["groups"])
    bad = {"username": "carol", "password": "wrong-Passw0rd"}
    assert await auth.authenticate(None, bad) is None


async def test_plaintext_only_when_asked(openldap, make_authenticator, caplog):
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        auth = await _auth(make_authenticator, openldap, allow_all=True, allow_plaintext=True)
    assert "unencrypted" in caplog.text
    model = await auth.authenticate(None, {"username": "bob", "password": PASSWORDS["bob"]})
    assert model["name"] == "bob"


async def test_log_lines_hold_no_password(directory, make_authenticator, caplog):
    auth = await _auth(make_authenticator, directory, allow_all=True)
    with caplog.at_level(logging.DEBUG):
        await auth.authenticate(None, {"username": "bob", "password": PASSWORDS["bob"]})
        await auth.authenticate(None, {"username": "bob", "password": "Secret-Wrong-1"})
        await auth.authenticate(None, {"username": "x" * 5000, "password": "Secret-Wrong-2"})
    lines = [r.getMessage() for r in caplog.records if r.name == LOG.name]
    outcomes = [line for line in lines if line.startswith("directory sign-in")]
    assert len(outcomes) == 3
    assert "outcome=ok" in outcomes[0] and "outcome=bad_credentials" in outcomes[1]
    assert all("duration_ms=" in line and "server=" in line for line in outcomes)
    assert max(len(line) for line in lines) < 400
    for secret in (PASSWORDS["bob"], "Secret-Wrong-1", "Secret-Wrong-2"):
        assert secret not in caplog.text


async def test_refresh_follows_the_directory(directory, make_authenticator):
    auth = await _auth(make_authenticator, directory, allowed_groups={"staff"})
    model = await auth.authenticate(None, {"username": "frank", "password": PASSWORDS["frank"]})
    user = FakeUser("frank", model["auth_state"])
    assert "gpu-beta" not in (await auth.refresh_user(user))["groups"]
    await directory.add_member("gpu-beta", "frank")
    try:
        assert "gpu-beta" in (await auth.refresh_user(user))["groups"]
    finally:
        await directory.remove_member("gpu-beta", "frank")
    await directory.remove_member("staff", "frank")
    try:
        assert await auth.refresh_user(user) is False
        assert await auth.refresh_user(FakeUser("frank", None)) is False
    finally:
        await directory.add_member("staff", "frank")
    assert (await auth.refresh_user(FakeUser("frank", None)))["name"] == "frank"
    assert await auth.refresh_user(FakeUser("gone", {"dn": "cn=gone,dc=x"})) is False


async def test_refresh_after_disabling(samba, make_authenticator):
    auth = await _auth(make_authenticator, samba, allow_all=True)
    model = await auth.authenticate(None, {"username": "gina", "password": PASSWORDS["gina"]})
    user = FakeUser("gina", model["auth_state"])
    await samba.set_disabled("gina", True)
    try:
        assert await auth.refresh_user(user) is False
    finally:
        await samba.set_disabled("gina", False)
    assert await auth.refresh_user(user) is not False


async def test_refresh_refuses_another_entry_of_the_same_name(directory, make_authenticator):
    auth = await _auth(make_authenticator, directory, allow_all=True)
    model = await auth.authenticate(None, {"username": "bob", "password": PASSWORDS["bob"]})
    state = model["auth_state"]
    assert state["directory_id"]
    assert (await auth.refresh_user(FakeUser("bob", state)))["name"] == "bob"
    # the DN and the name as before, but another entry: a deleted account's name reused
    assert await auth.refresh_user(FakeUser("bob", {**state, "directory_id": "00" * 16})) is False
    with pytest.raises(web.HTTPError) as info:
        await auth.pre_spawn_start(FakeUser("bob", {**state, "directory_id": "00" * 16}), None)
    assert info.value.status_code == 403


class FakeHandler:
    """What authenticate reads from the login handler: the hub's user of a name."""

    def __init__(self, *users: FakeUser) -> None:
        self.users = {u.name: u for u in users}

    def find_user(self, name: str) -> FakeUser | None:
        return self.users.get(name)


async def test_sign_in_does_not_inherit_a_reused_name(directory, make_authenticator):
    auth = await _auth(make_authenticator, directory, allow_all=True, enable_auth_state=True)
    data = {"username": "bob", "password": PASSWORDS["bob"]}
    model = await auth.authenticate(None, data)
    same = FakeHandler(FakeUser("bob", model["auth_state"]))
    assert (await auth.authenticate(same, data))["name"] == "bob"
    assert (await auth.authenticate(FakeHandler(), data))["name"] == "bob"
    earlier = FakeHandler(FakeUser("bob", {**model["auth_state"], "directory_id": "00" * 16}))
    with pytest.raises(web.HTTPError) as info:
        await auth.authenticate(earlier, data)
    assert info.value.status_code == 403 and "belonged to another" in info.value.log_message


async def test_refresh_keeps_access_while_directory_is_down(openldap, make_authenticator):
    auth = await _auth(
        make_authenticator, openldap, allow_all=True, server_urls=[closed_port_url()]
    )
    assert await auth.refresh_user(FakeUser("bob", None)) is True


CONFIG_ERRORS = {
    "no-server": ({"server_urls": []}, "server_urls is empty"),
    "bad-scheme": ({"server_urls": ["http://dc1"]}, "is not ldap://host"),
    "no-base": ({"user_search_base": ""}, "user_search_base is empty"),
    "no-way-to-bind": ({"service_account_dn": ""}, "set service_account_dn or bind_templates"),
    "no-service-password": ({"service_account_password": ""}, "service_account_password"),
    "template-without-username": ({"bind_templates": ["cn=x"]}, "lacks {username}"),
    "missing-ca-file": ({"tls_ca_file": "/nonexistent/ca.pem"}, "no such file"),
    "too-many-workers": ({"worker_processes": 64}, "worker_processes must be 1-8"),
}


@pytest.mark.parametrize("case", CONFIG_ERRORS)
def test_config_is_checked_at_start(case):
    base = {
        "server_urls": ["ldaps://dc1.example.org"],
        "user_search_base": "dc=example,dc=org",
        "service_account_dn": "cn=svc,dc=example,dc=org",
        "service_account_password": "x",
    }
    overrides, message = CONFIG_ERRORS[case]
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        DirectoryAuthenticator(**{**base, **overrides})


def test_every_trait_is_documented():
    for name, trait in DirectoryAuthenticator.class_traits(config=True).items():
        if trait.this_class is DirectoryAuthenticator:
            assert trait.help and len(trait.help) > 20, name


# -- identity from the bind, group scope, account states -----------------------------

UPN_CASES = {
    # case: (typed, password, expected name or None, a group that must be there)
    # mallory's UPN is hank@corp...: the UPN template binds mallory for "hank"
    "mallory-typing-hank": ("hank", PASSWORDS["mallory"], None, None),
    "mallory-as-herself": ("mallory", PASSWORDS["mallory"], "mallory", "mallory-team"),
    "hank-by-netbios-template": ("hank", PASSWORDS["hank"], "hank", "hank-team"),
}


@pytest.mark.parametrize("case", UPN_CASES)
async def test_bind_template_account_is_the_one_that_bound(case, samba, make_authenticator):
    typed, password, expected, group = UPN_CASES[case]
    config = {k: v for k, v in samba.config.items() if not k.startswith("service_")}
    auth = await make_authenticator(
        **config,
        bind_templates=[f"{{username}}@{UPN_SUFFIX}", "ADEX\\{username}"],
        manage_groups=True,
        allow_all=True,
        log=LOG,
    )
    model = await auth.authenticate(None, {"username": typed, "password": password})
    if expected is None:
        assert model is None
        return
    assert model["name"] == expected
    assert model["auth_state"]["dn"].lower() == samba.user_dn(expected).lower()
    assert group in model["groups"]
    other = "hank-team" if group == "mallory-team" else "mallory-team"
    assert other not in model["groups"]


async def test_bind_template_applies_the_user_filter(openldap, make_authenticator):
    config = {k: v for k, v in openldap.config.items() if not k.startswith("service_")}
    auth = await make_authenticator(
        **config, bind_templates=[f"uid={{username}},{openldap.people}"], allow_all=True, log=LOG
    )
    data = {"username": "ivan", "password": PASSWORDS["ivan"]}
    assert (await auth.authenticate(None, data))["name"] == "ivan"
    await openldap.set_disabled("ivan", True)
    try:
        assert await auth.authenticate(None, data) is None  # the bind works; the filter says no
    finally:
        await openldap.set_disabled("ivan", False)


GROUP_SCOPE_CASES = {
    # case: (admin_groups as a function of the directory, extra traits, dave is admin)
    "same-cn-elsewhere-grants-nothing": (lambda d: {"admins"}, {}, False),
    "full-dn-elsewhere-counts": (lambda d: {d.elsewhere_admins_dn()}, {}, True),
}
AD_GROUP_CASES = {
    "distribution-group-ignored": (lambda d: {"mailing-list"}, {}, False),
    "distribution-group-when-asked": (
        lambda d: {"mailing-list"},
        {"include_distribution_groups": True},
        True,
    ),
}


@pytest.mark.parametrize("case", GROUP_SCOPE_CASES)
async def test_group_scope(case, directory, make_authenticator):
    admin_groups, extra, admin = GROUP_SCOPE_CASES[case]
    auth = await _auth(
        make_authenticator, directory, allow_all=True, admin_groups=admin_groups(directory), **extra
    )
    model = await auth.authenticate(None, {"username": "dave", "password": PASSWORDS["dave"]})
    assert model["admin"] is admin
    assert "admins" not in model["groups"]  # never synced by CN from outside the base


@pytest.mark.parametrize("case", AD_GROUP_CASES)
async def test_ad_security_groups_only(case, samba, make_authenticator):
    admin_groups, extra, admin = AD_GROUP_CASES[case]
    auth = await _auth(
        make_authenticator, samba, allow_all=True, admin_groups=admin_groups(samba), **extra
    )
    model = await auth.authenticate(None, {"username": "dave", "password": PASSWORDS["dave"]})
    assert model["admin"] is admin
    assert ("mailing-list" in model["groups"]) is admin


ACCOUNT_STATE_CASES = {
    # case: (directory kind, how to change the account, message at sign-in or None)
    "ad-disabled": ("samba", "set_disabled", "disabled"),
    "ad-expired": ("samba", "set_expired", "expired"),
    "ldap-excluded-by-filter": ("openldap", "set_disabled", None),
}


@pytest.mark.parametrize("case", ACCOUNT_STATE_CASES)
async def test_account_state_at_sign_in_and_refresh(case, request, make_authenticator):
    kind, change, message = ACCOUNT_STATE_CASES[case]
    directory = request.getfixturevalue(kind)
    auth = await _auth(make_authenticator, directory, allowed_groups={"staff"})
    data = {"username": "gina", "password": PASSWORDS["gina"]}
    model = await auth.authenticate(None, data)
    user = FakeUser("gina", model["auth_state"])
    await getattr(directory, change)("gina", True)
    try:
        assert await auth.refresh_user(user) is False
        if message is None:
            assert await auth.authenticate(None, data) is None
        else:
            with pytest.raises(web.HTTPError) as info:
                await auth.authenticate(None, data)
            assert info.value.status_code == 403 and message in info.value.log_message
            wrong = {"username": "gina", "password": "Wrong-Passw0rd!"}
            try:
                assert await auth.authenticate(None, wrong) is None
            except web.HTTPError as exc:  # the directory may say so without the password
                assert exc.status_code == 403
        with pytest.raises(web.HTTPError) as info:
            await auth.pre_spawn_start(user, None)
        assert info.value.status_code == 403
        assert "gina" in info.value.log_message
    finally:
        await getattr(directory, change)("gina", False)
    assert await auth.refresh_user(user) is not False
    await auth.pre_spawn_start(user, None)


async def test_pre_spawn_start_when_directory_is_down(openldap, make_authenticator):
    auth = await _auth(
        make_authenticator, openldap, allow_all=True, server_urls=[closed_port_url()]
    )
    with pytest.raises(web.HTTPError) as info:
        await auth.pre_spawn_start(FakeUser("bob", None), None)
    assert info.value.status_code == 503


def test_cn_groups_need_a_group_base():
    with pytest.raises(ValueError, match="group_search_base is empty"):
        DirectoryAuthenticator(
            server_urls=["ldaps://dc1.example.org"],
            user_search_base="dc=example,dc=org",
            service_account_dn="cn=svc,dc=example,dc=org",
            service_account_password="x",
            allowed_groups={"staff"},
        )
    DirectoryAuthenticator(  # full DNs need no group base
        server_urls=["ldaps://dc1.example.org"],
        user_search_base="dc=example,dc=org",
        service_account_dn="cn=svc,dc=example,dc=org",
        service_account_password="x",
        allowed_groups={"cn=staff,ou=groups,dc=example,dc=org"},
    )
