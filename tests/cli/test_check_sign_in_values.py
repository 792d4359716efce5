"""``hubplugins check`` on helm values whose sign-in settings the hub refuses to start with.

Two entries of ``MultiAuthenticator.authenticators`` with the same
``url_prefix`` stop the hub at start; ``check`` called the same values valid
(exit 0), reading no sign-in settings. It now makes the combined page as the
hub does and names its refusal.
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
{entries}
    HubPolicy:
      policy:
        defaults: {{servers: {{max_named: 2}}}}
"""
GITHUB = "        - {{class: github-policy, url_prefix: {url}, username_prefix: {prefix}}}"
DUMMY = "        - {class: dummy, url_prefix: local}"
WHERE = "hub.config.MultiAuthenticator.authenticators"

CASES = {
    # case: (entries, the error check names, or None: valid)
    "same-url-prefix": (
        [GITHUB.format(url="github", prefix="gh-"), GITHUB.format(url="github", prefix="gh2-")],
        f"  {WHERE}: MultiAuthenticator.authenticators[1].url_prefix 'github' is empty, "
        "taken or reserved",
    ),
    "prefix-without-separator": (
        [GITHUB.format(url="github", prefix="gh"), DUMMY],
        f"  {WHERE}: MultiAuthenticator.authenticators[0].username_prefix 'gh': use "
        "lowercase letters, digits, '-', '_' or '.', ending in '-', '_' or '.', e.g. 'gh-'",
    ),
    "valid": ([GITHUB.format(url="github", prefix="gh-"), DUMMY], None),
    # warnings: what this machine cannot tell, and what the hub's environment may complete
    "class-not-installed": (
        [
            GITHUB.format(url="github", prefix="gh-"),
            "        - {class: nosuch.Auth, url_prefix: x}",
        ],
        f"  warning: {WHERE}: not checked here: nosuch.Auth not installed (No module named "
        "'nosuch')",
    ),
    "allow-rules": (
        [
            "        - {class: oidc-policy, url_prefix: federation, username_prefix: fed-}",
            DUMMY,
        ],
        f"  warning: {WHERE}: the hub checks at start: OIDCAuthenticator: set issuer (its "
        "discovery gives the provider's URLs), or authorize_url, token_url, userdata_url",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_check_names_what_the_hub_refuses(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries, error = CASES[case]
    values = tmp_path / "values.yaml"
    values.write_text(VALUES.format(entries="\n".join(entries)), encoding="utf-8")
    code = main(["check", str(values)])
    out, err = capsys.readouterr()
    if error is None:
        assert code == 0, err
        assert "valid policy" in out
    else:
        assert code == (0 if error.startswith("  warning: ") else 1), err
        assert error in err, err
