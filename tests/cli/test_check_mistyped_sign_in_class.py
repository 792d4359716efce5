"""``hubplugins check`` names a mistyped sign-in class as the error the hub stops on.

A class of the combined page that does not load here is only warned of ("not
checked here"): it may be installed in the hub's image and not where the check
runs. A mistyped short name (``github-polcy`` for ``github-policy``) or a name
this package does not have (``hubplugins.GitHubAuthenticatr``) is no such class:
the check runs with this package and its entry points installed, and the hub
stops at its start on the same import. The check says the values are valid
(exit 0).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hubplugins.cli import main

VALUES = """\
hub:
  config:
    JupyterHub:
      authenticator_class: hubplugins.auth.multi.MultiAuthenticator
    MultiAuthenticator:
      authenticators:
        - {{class: {cls}, url_prefix: github, username_prefix: gh-}}
        - {{class: dummy, url_prefix: local}}
    HubPolicy:
      policy:
        defaults: {{servers: {{max_named: 2}}}}
"""


@pytest.mark.parametrize("cls", ["github-polcy", "hubplugins.GitHubAuthenticatr"])
def test_a_mistyped_class_is_an_error(
    cls: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(VALUES.format(cls=cls), encoding="utf-8")
    code = main(["check", str(values)])
    _, err = capsys.readouterr()
    assert code == 1, err
