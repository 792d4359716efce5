"""A prefixed directory method judges "name reused" by its own account, not a namesake's.

Two directories on one page: staff (no prefix) and students (``stu-``). The
student ``alice`` signs in as ``stu-alice``, but the directory's check for a
reused name looks up the hub account ``alice`` (the provider's name), which is
the staff ``alice``: its ``directory_id`` differs, so the student is refused
(403 "replaced") at every sign-in, although ``stu-alice`` was never anyone
else's.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hubplugins.auth.multi import MultiAuthenticator

DIRECTORY = {
    "server_urls": ["ldaps://127.0.0.1:1"],
    "user_search_base": "dc=example,dc=org",
    "group_search_base": "dc=example,dc=org",
    "bind_templates": ["uid={username},dc=example,dc=org"],
    "enable_auth_state": True,  # as docs/directory.md sets it
}


class _Account:
    def __init__(self, directory_id: str) -> None:
        self.directory_id = directory_id

    async def get_auth_state(self) -> dict[str, Any]:
        return {"directory_id": self.directory_id}


@pytest.fixture
def students() -> Any:
    """The students' method (built outside the loop: no worker processes start)."""
    multi = MultiAuthenticator(
        authenticators=[
            {"class": "directory", "url_prefix": "staff", "config": DIRECTORY},
            {
                "class": "directory",
                "url_prefix": "students",
                "username_prefix": "stu-",
                "config": DIRECTORY,
            },
        ]
    )
    return multi.children[1]


async def test_a_namesake_of_another_method_is_not_a_reused_name(students: Any) -> None:
    hub_accounts = {"alice": _Account("staff-entry-of-alice")}  # no stu-alice yet
    handler = SimpleNamespace(find_user=hub_accounts.get)
    model = {"name": "alice", "auth_state": {"directory_id": "student-entry-of-alice"}}
    assert await students._name_reused(handler, model) is False
    # the method's own account of that name, from another directory entry, is a reused name
    hub_accounts["stu-alice"] = _Account("an-earlier-student-entry")
    assert await students._name_reused(handler, model) is True
    hub_accounts["stu-alice"] = _Account("student-entry-of-alice")
    assert await students._name_reused(handler, model) is False
