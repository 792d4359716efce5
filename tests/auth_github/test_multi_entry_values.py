"""Mistakes in one entry of MultiAuthenticator.authenticators are named at start.

- A misspelled trait in an entry's ``config`` (``allowed_organisations``) is
  dropped without a word: traitlets only emits a DeprecationWarning (hidden by
  default), where the same key in ``c.GitHubAuthenticator`` is logged as not
  recognized, with the right spelling. Dropping a restriction widens access:
  with ``allow_all`` set hub-wide, every GitHub account is let in.
- A value of the wrong type that YAML produces easily is accepted at start
  and fails at the first request: ``username_prefix:`` left empty (None) at
  the first sign-in, ``title: yes`` (True) at the login page.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from traitlets.config import Config

from hubplugins.auth.multi import MultiAuthenticator

GITHUB = "hubplugins.GitHubAuthenticator"
DUMMY = "jupyterhub.auth.DummyAuthenticator"


ENTRY_MISTAKES = {
    # case: (the second entry's keys, the refusal at start)
    "misspelled-setting": (
        {"config": {"allowed_organisations": {"my-org"}}},
        "MultiAuthenticator.authenticators[1].config: GitHubAuthenticator has no setting "
        "'allowed_organisations'; did you mean 'allowed_organizations'?",
    ),
    "unknown-setting": (
        {"config": {"colour": "blue"}},
        "MultiAuthenticator.authenticators[1].config: GitHubAuthenticator has no setting 'colour'",
    ),
    "config-not-a-mapping": (
        {"config": ["allow_all"]},
        "MultiAuthenticator.authenticators[1].config is ['allow_all']: it must be a mapping "
        "of settings",
    ),
    "empty-username-prefix": (
        {"username_prefix": None},
        "MultiAuthenticator.authenticators[1].username_prefix is None: it must be text; "
        "leave it out for none",
    ),
    "title-yes": (
        {"title": True},
        "MultiAuthenticator.authenticators[1].title is True: it must be text",
    ),
}


@pytest.mark.parametrize("case", ENTRY_MISTAKES)
def test_a_mistake_in_an_entry_is_refused_at_start(case: str) -> None:
    extra, message = ENTRY_MISTAKES[case]
    entries: list[dict[str, Any]] = [
        {"class": DUMMY, "url_prefix": "local"},
        {"class": GITHUB, "url_prefix": "github", "username_prefix": "gh-", **extra},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # traitlets' hidden warning is not what says it
        with pytest.raises(ValueError) as refused:
            MultiAuthenticator(config=Config(), authenticators=entries)
    assert str(refused.value) == message


def test_an_entry_with_known_settings_starts() -> None:
    entries: list[dict[str, Any]] = [
        {"class": DUMMY, "url_prefix": "local", "title": "Local"},
        {
            "class": GITHUB,
            "url_prefix": "github",
            "username_prefix": "gh-",
            "config": {"allowed_organizations": {"my-org"}, "client_id": "x"},
        },
    ]
    multi = MultiAuthenticator(authenticators=entries)
    assert multi.children[1].allowed_organizations == {"my-org"}
