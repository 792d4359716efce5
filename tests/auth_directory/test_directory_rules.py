"""The pure rules behind directory identity and groups, without a server."""

from __future__ import annotations

import pytest

from hubplugins.auth.ldap_account import (
    account_state,
    ad_bind_name,
    ad_bound_dn,
    bind_refusal,
    domain_root,
    who_am_i,
)
from hubplugins.auth.ldap_names import GroupRule, common_base, dn_under

NOW = 1_780_000_000.0  # a Unix time in 2026
PAST_FILETIME = str(int((NOW - 86400) * 10_000_000) + 116444736000000000)
FUTURE_FILETIME = str(int((NOW + 86400) * 10_000_000) + 116444736000000000)

AD_STATES = {
    # case: (attributes, bound, expected)
    "normal": ({"userAccountControl": "512"}, False, "ok"),
    "disabled-bit": ({"userAccountControl": ["514"]}, True, "disabled"),
    "expires-never-max": ({"accountExpires": "9223372036854775807"}, False, "ok"),
    "expires-never-zero": ({"accountExpires": "0"}, False, "ok"),
    "expired": ({"accountExpires": PAST_FILETIME}, True, "expired"),
    "expires-later": ({"accountExpires": FUTURE_FILETIME}, False, "ok"),
    "locked-at-refresh": ({"lockoutTime": "133000000000000000"}, False, "locked"),
    "lockout-over-at-bind": ({"lockoutTime": "133000000000000000"}, True, "ok"),
    "lockout-cleared": ({"lockoutTime": "0"}, False, "ok"),
    "garbage-values": ({"userAccountControl": "x", "accountExpires": "y"}, False, "ok"),
    "disabled-wins": (
        {"userAccountControl": "514", "accountExpires": PAST_FILETIME},
        False,
        "disabled",
    ),
}


@pytest.mark.parametrize("case", AD_STATES)
def test_ad_account_state(case):
    attrs, bound, expected = AD_STATES[case]
    assert account_state(attrs, active_directory=True, now=NOW, bound=bound) == expected


LDAP_STATES = {
    "no-lock-attribute": ({"uid": "bob"}, "ok"),
    "ppolicy-locked": ({"pwdAccountLockedTime": ["000001010000Z"]}, "locked"),
    "empty-value": ({"pwdAccountLockedTime": []}, "ok"),
    "ad-attributes-ignored": ({"userAccountControl": "514"}, "ok"),
}


@pytest.mark.parametrize("case", LDAP_STATES)
def test_ldap_account_state(case):
    attrs, expected = LDAP_STATES[case]
    state = account_state(
        attrs, active_directory=False, lock_attributes=["pwdAccountLockedTime"], now=NOW
    )
    assert state == expected


BIND_ANSWERS = {
    "wrong-password": ("80090308: LdapErr: DSID-0C09042A, data 52e, v3839", "bad_credentials"),
    "disabled": ("80090308: LdapErr: DSID-0C09042A, data 533, v3839", "disabled"),
    "expired": ("... data 701, v4563", "expired"),
    "locked": ("... data 775, v4563", "locked"),
    "openldap": ("", "bad_credentials"),
}


@pytest.mark.parametrize("case", BIND_ANSWERS)
def test_bind_refusal(case):
    message, expected = BIND_ANSWERS[case]
    assert bind_refusal(message) == expected


WHO_AM_I = {
    "openldap-dn": (
        "dn:uid=alice,ou=people,dc=example,dc=org",
        ("uid=alice,ou=people,dc=example,dc=org", None),
    ),
    "ad-domain-user": ("u:ADEX\\mallory", (None, "mallory")),
    "plain-user": ("u:bob", (None, "bob")),
    "anonymous": ("", (None, None)),
    "unsupported": (None, (None, None)),
    "empty-dn": ("dn:", (None, None)),
    "other-form": ("x:whatever", (None, None)),
}


@pytest.mark.parametrize("case", WHO_AM_I)
def test_who_am_i(case):
    answer, expected = WHO_AM_I[case]
    assert who_am_i(answer) == expected


BASE = "OU=Groups,DC=ad,DC=example,DC=org"
STAFF = f"CN=staff,{BASE}"
ADMINS = f"CN=admins,{BASE}"
ELSEWHERE_ADMINS = "CN=admins,OU=Projects,DC=ad,DC=example,DC=org"
GPU = f"CN=GPU Beta,{BASE}"

MATCH_CASES = {
    # case: (wanted, user's group DNs, expected)
    "cn-under-base": ({"admins"}, [ADMINS], True),
    "cn-case-insensitive": ({"ADMINS"}, [ADMINS], True),
    "same-cn-elsewhere": ({"admins"}, [ELSEWHERE_ADMINS], False),
    "dn-elsewhere": ({ELSEWHERE_ADMINS}, [ELSEWHERE_ADMINS], True),
    "dn-other-case-and-spacing": (
        {"cn=ADMINS, ou=projects,dc=ad,dc=example,dc=org"},
        [ELSEWHERE_ADMINS],
        True,
    ),
    "dn-does-not-match-other-group": ({ELSEWHERE_ADMINS}, [ADMINS], False),
    "renamed-name": ({"gpu"}, [GPU], True),
    "no-groups": ({"staff"}, [], False),
    "base-itself-is-not-a-member-group": ({"Groups"}, [STAFF], False),
}


@pytest.mark.parametrize("case", MATCH_CASES)
def test_group_matching(case):
    wanted, dns, expected = MATCH_CASES[case]
    rule = GroupRule.build(BASE, [], {"gpu beta": "gpu"})
    assert rule.matches(wanted, dns) is expected


MAP_CASES = {
    # case: (allow list, rename, user's group DNs, expected JupyterHub groups)
    "all-under-base": ([], {}, [STAFF, ELSEWHERE_ADMINS], ["staff"]),
    "allow-by-cn": (["staff"], {}, [STAFF, ADMINS], ["staff"]),
    "allow-cn-not-elsewhere": (["admins"], {}, [ELSEWHERE_ADMINS], []),
    "allow-by-dn-elsewhere": ([ELSEWHERE_ADMINS], {}, [ELSEWHERE_ADMINS, ADMINS], ["admins"]),
    "rename-by-dn": (
        [],
        {ELSEWHERE_ADMINS: "project-admins"},
        [ELSEWHERE_ADMINS],
        ["project-admins"],
    ),
    "rename-by-cn": ([], {"GPU beta": "gpu"}, [GPU], ["gpu"]),
}


@pytest.mark.parametrize("case", MAP_CASES)
def test_group_mapping_rules(case):
    allow, rename, dns, expected = MAP_CASES[case]
    assert GroupRule.build(BASE, allow, rename).map(dns) == expected


def test_no_group_base_names_no_group_by_cn():
    rule = GroupRule.build("", [], {})
    assert rule.map([STAFF]) == []
    assert not rule.matches({"staff"}, [STAFF])
    assert rule.matches({STAFF}, [STAFF])


BASES = {
    "same-domain": ([BASE, ELSEWHERE_ADMINS], "DC=ad,DC=example,DC=org"),
    "one": ([BASE], BASE),
    "nested": ([BASE, STAFF], BASE),
    "no-common": (["dc=a,dc=org", "dc=b,dc=net"], ""),
}


@pytest.mark.parametrize("case", BASES)
def test_common_base(case):
    dns, expected = BASES[case]
    assert common_base(dns) == expected
    assert all(dn_under(dn, expected) for dn in dns) or not expected


AD_BOUND = {
    # case: (bind name, entries (dn, UPN, sAMAccountName), the DN that bound)
    "explicit-upn-wins": (
        "hank@corp.example.org",
        [
            ("CN=hank", "hank@ad.example.org", "hank"),
            ("CN=mallory", "hank@corp.example.org", "mallory"),
        ],
        "CN=mallory",
    ),
    "implicit-upn": (
        "hank@ad.example.org",
        [("CN=hank,CN=Users,DC=ad,DC=example,DC=org", None, "hank")],
        "CN=hank,CN=Users,DC=ad,DC=example,DC=org",
    ),
    "implicit-upn-only-in-own-domain": (
        "hank@corp.example.org",
        [("CN=hank,CN=Users,DC=ad,DC=example,DC=org", "hank@ad.example.org", "hank")],
        None,
    ),
    "netbios": ("ADEX\\hank", [("CN=hank", "x@y", "hank"), ("CN=m", "hank@y", "m")], "CN=hank"),
    "two-with-the-upn": ("a@b", [("CN=1", "a@b", "x"), ("CN=2", "A@B", "y")], None),
    "none": ("a@b", [], None),
    "not-a-bind-name": ("plain", [("CN=plain", None, "plain")], None),
}


@pytest.mark.parametrize("case", AD_BOUND)
def test_ad_bound_account(case):
    bind_name, entries, expected = AD_BOUND[case]
    upn, sam = ad_bind_name(bind_name)
    assert ad_bound_dn(entries, upn, sam) == expected


DOMAINS = {
    "ou-under-domain": ("OU=People,DC=ad,DC=example,DC=org", "DC=ad,DC=example,DC=org"),
    "domain-itself": ("DC=example,DC=org", "DC=example,DC=org"),
    "no-dc": ("ou=people,o=corp", ""),
    "escaped-comma": ("CN=a\\,b,DC=ad,DC=org", "DC=ad,DC=org"),
}


@pytest.mark.parametrize("case", DOMAINS)
def test_domain_root(case):
    dn, expected = DOMAINS[case]
    assert domain_root(dn) == expected
