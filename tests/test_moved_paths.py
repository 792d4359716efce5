"""The module paths of before the layers still import, with a warning; the public ones without."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from hubplugins._moved import MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()), ids=sorted(MOVED))
def test_an_old_path_warns_and_is_the_module_at_its_new_path(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"^{old} is now {new}; import it from there"):
        moved = importlib.import_module(old)
    assert moved is importlib.import_module(new)
    assert moved.__name__ == new and moved.__spec__.name == new


# what admins write in jupyterhub_config.py, values files and service commands
PUBLIC = [
    "from hubplugins import setup, PolicySpawner, HubPolicy",
    "from hubplugins.spawner import PolicySpawner",
    "from hubplugins.auth.directory import DirectoryAuthenticator",
    "from hubplugins.auth.github import GitHubAuthenticator",
    "from hubplugins.auth.oidc import OIDCAuthenticator",
    "from hubplugins.auth.multi import MultiAuthenticator",
    "from hubplugins.lifecycle import configure, setup_lifecycle, HubAPI, plan_user",
    "from hubplugins.policy import PolicyTable, read_request, check_start, Usage",
    "import traitlets.utils.importstring as i; i.import_item('hubplugins.spawner.PolicySpawner')",
]


def test_the_public_paths_import_without_a_warning():
    run = subprocess.run(
        # the warnings of this package start with the old path: "hubplugins."
        [sys.executable, "-W", "error:hubplugins:DeprecationWarning", "-c", "\n".join(PUBLIC)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "DeprecationWarning" not in run.stderr


def test_an_unknown_module_is_still_not_found():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("hubplugins.no_such_module")
