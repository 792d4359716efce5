"""The admin CLI (``hubplugins check`` / ``explain``) and ``setup(c)``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tornado import web
from traitlets.config import Config

from hubplugins.cli import main
from hubplugins.hub.config import HubPolicy, named_server_check, setup
from hubplugins.policy.errors import PolicyConfigError
from hubplugins.policy.table import PolicyTable

POLICY_YAML = """\
defaults:
  servers: {max_named: 2}
groups:
  gpu-beta:
    resources: {gpu: {max: 2}, memory: {max: 32G}}
    quota: {gpu: 2}
cluster:
  gpu_pool: {nvidia.com/gpu: 4}
"""

HELM_YAML = """\
hub:
  config:
    HubPolicy:
      policy:
        defaults:
          resources: {memory: {max: 32X}}
          quotaa: {}
singleuser:
  memory: {limit: 1G}
"""

CHECK = {
    "valid-policy": (
        POLICY_YAML,
        0,
        "valid policy; groups: gpu-beta; GPU pool: nvidia.com/gpu: 4",
    ),
    "helm-values": (
        HELM_YAML,
        1,
        "hub.config.HubPolicy.policy.defaults.resources.memory.max: '32X' is not a memory",
    ),
    "helm-values-unknown-key": (
        HELM_YAML,
        1,
        "hub.config.HubPolicy.policy.defaults.quotaa: unknown key",
    ),
    "helm-without-policy": ("hub:\n  config: {}\n", 1, "without hub.config.HubPolicy.policy"),
    "two-errors-counted": (
        "defaults:\n  ssh_keys: 1\n  profiles: 2\n",
        1,
        "2 errors",
    ),
    "bad-yaml": ("defaults: [\n", 1, "not valid YAML"),
}


@pytest.mark.parametrize(("text", "code", "fragment"), CHECK.values(), ids=CHECK.keys())
def test_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, code: int, fragment: str
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(text)
    assert main(["check", str(path)]) == code
    out, err = capsys.readouterr()
    assert fragment in (out if code == 0 else err)
    if code == 0:
        assert out.count("\n") == 1


ONE_PASS_YAML = """\
hub:
  config:
    HubPolicy:
      policy:
        defaults:
          resources: {memory: {max: 8G, guarantee: 4G, limit: 1X}, cpu: {guarantee: 3}}
singleuser:
  profileList:
    - {display_name: Small, slug: small, kubespawner_override: {mem_limit: 8Gi}}
    - {display_name: Big, slug: small}
"""

UNITS_YAML = """\
hub:
  config:
    HubPolicy:
      policy:
        defaults:
          resources: {memory: {max: 8G}}
singleuser:
  profileList:
    - {display_name: Big, slug: big, kubespawner_override: {mem_limit: 8G}}
"""


def test_check_reports_every_problem_in_one_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(ONE_PASS_YAML)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "4 errors" in err
    prefix = "hub.config.HubPolicy.policy.defaults.resources"
    for fragment in (
        f"{prefix}.memory.limit: '1X' is not a memory quantity",
        f"{prefix}.cpu: guarantee 3 is above limit 1",
        "singleuser.profileList[0].kubespawner_override.mem_limit: '8Gi' is not a memory value",
        'share the slug "small"',
    ):
        assert fragment in err, err


# case -> (arguments after the file, exit code)
UNITS_RUNS = {"warning-passes": ([], 0), "strict-fails": (["--strict"], 1)}


@pytest.mark.parametrize(("extra", "code"), UNITS_RUNS.values(), ids=UNITS_RUNS.keys())
def test_check_states_both_readings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], code: int
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(UNITS_YAML)
    assert main(["check", str(path), *extra]) == code
    out, err = capsys.readouterr()
    assert "1 warning" in err
    assert "warning: singleuser.profileList[0].kubespawner_override: profile 'big'" in err
    assert "8·2³⁰ bytes (8Gi)" in err and "8G = 8·10⁹ bytes" in err
    assert "write hub.config.HubPolicy.policy.defaults.resources.memory.max: 8Gi" in err
    assert "valid policy" in out  # no errors: warnings alone do not make it invalid


def test_check_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(UNITS_YAML)
    assert main(["check", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {
        "format",
        "file",
        "kind",
        "valid",
        "errors",
        "warnings",
        "problems",
        "policy",
    }
    assert (report["format"], report["kind"], report["valid"]) == (1, "helm-values", True)
    assert (report["errors"], report["warnings"]) == (0, 1)
    [problem] = report["problems"]
    assert problem["severity"] == "warning"
    assert problem["check"] == "profile_resource_issues"
    assert problem["path"] == "singleuser.profileList[0].kubespawner_override"
    assert report["policy"] == {"groups": [], "gpu_pool": {}}
    path.write_text(ONE_PASS_YAML)
    assert main(["check", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["valid"], report["errors"], report["policy"]) == (False, 4, None)


def test_check_runs_every_listed_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hubplugins import cli
    from hubplugins.policy.errors import ConfigIssue

    def chart_settings(document: Any) -> list[ConfigIssue]:
        return [ConfigIssue("cull.enabled", "seen")] if "hub" in document else []

    monkeypatch.setattr(cli, "CHECKS", [*cli.CHECKS, chart_settings])
    path = tmp_path / "values.yaml"
    path.write_text(ONE_PASS_YAML)
    assert main(["check", str(path), "--json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert problems[-1] == {
        "severity": "error",
        "path": "cull.enabled",
        "message": "seen",
        "check": "chart_settings",
    }
    assert len(problems) == 5


def test_a_broken_check_hides_no_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hubplugins import cli

    def broken(document: Any) -> list[Any]:
        raise KeyError("cull")

    monkeypatch.setattr(cli, "CHECKS", [broken, *cli.CHECKS])
    path = tmp_path / "values.yaml"
    path.write_text(UNITS_YAML)
    assert main(["check", str(path), "--json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [(p["check"], p["severity"]) for p in problems] == [
        ("broken", "error"),
        ("profile_resource_issues", "warning"),
    ]
    assert "the check could not run: KeyError" in problems[0]["message"]


@pytest.mark.parametrize(
    ("url", "api"),
    [
        ("https://hub.example.org", "https://hub.example.org/hub/api"),
        ("https://hub.example.org/hub/", "https://hub.example.org/hub/api"),
        ("https://hub.example.org/hub/api/", "https://hub.example.org/hub/api"),
    ],
    ids=["public-url", "hub-prefix", "api-url"],
)
def test_plan_url(url: str, api: str) -> None:
    from hubplugins.cli import _hub_api_url

    assert _hub_api_url(url) == api


def test_check_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "/nonexistent/policy.yaml"]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_YAML)
    assert main(["explain", "--file", str(path), "--groups", "gpu-beta,nobody"]) == 0
    out = capsys.readouterr().out
    assert "# tier: gpu-beta" in out
    assert "# not in the policy table (ignored): nobody" in out
    lines = {line.split(":")[0].strip(): line for line in out.splitlines()}
    assert lines["max_named"].split("#")[0].strip() == "max_named: 2"
    assert lines["max_named"].endswith("# from defaults")
    assert "32G" in lines["max"] or any("max: 32G" in line for line in out.splitlines())
    assert any("max: 32G" in line and line.endswith("# from gpu-beta") for line in out.splitlines())
    assert any('profiles: ["*"]' in line for line in out.splitlines())


def test_explain_builtin_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert "# tier: defaults" in out and "stop_after: 2h" in out


@pytest.mark.slow
def test_console_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hubplugins.cli", "explain", "--groups", "x"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "# not in the policy table (ignored): x" in result.stdout


# -- HubPolicy and setup(c) --------------------------------------------------------


def test_hub_policy_shares_one_table() -> None:
    c = Config()
    c.HubPolicy.policy = {"defaults": {"servers": {"max_named": 3}}}
    first = HubPolicy.instance_for(c).table
    assert HubPolicy.instance_for(c).table is first
    assert first.resolve([]).servers.max_named == 3


def test_hub_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_YAML)
    c = Config()
    c.HubPolicy.policy_file = str(path)
    assert HubPolicy.instance_for(c).table.group_names == ("gpu-beta",)
    c.HubPolicy.policy = {"defaults": {}}
    with pytest.raises(PolicyConfigError, match="not both"):
        HubPolicy.instance_for(c).table  # noqa: B018


def test_setup_sets_only_the_hub_config() -> None:
    c = Config()
    c.HubPolicy.policy = {"defaults": {"servers": {"max_named": 2}}}
    setup(c)
    assert c.JupyterHub.allow_named_servers is True
    assert callable(c.JupyterHub.named_server_limit_per_user)
    assert set(c) == {"HubPolicy", "JupyterHub"}


def test_setup_stops_on_an_invalid_policy() -> None:
    c = Config()
    c.HubPolicy.policy = {"defaults": {"resources": {"memory": {"max": "32X"}}}}
    with pytest.raises(PolicyConfigError) as info:
        setup(c)
    assert "defaults.resources.memory.max" in str(info.value)


TABLE = PolicyTable.from_yaml(POLICY_YAML)
NAMED = {
    "home-page-no-new-name": ([], ["", "a", "b"], None, 2, True),
    "existing-name": ([], ["a", "b"], "a", 2, True),
    "room-left": ([], ["", "a"], "b", 2, True),
    "limit-reached": ([], ["a", "b"], "c", 2, False),
    "bad-name": ([], [], "Bad", 2, False),
}


@pytest.mark.parametrize(
    ("groups", "existing", "new", "limit", "ok"), NAMED.values(), ids=NAMED.keys()
)
def test_named_server_check(
    groups: list[str], existing: list[str], new: str | None, limit: int, ok: bool
) -> None:
    got_limit, decision = named_server_check(TABLE, groups, existing, new)
    assert got_limit == limit
    assert decision.allowed is ok


class FakeUser(SimpleNamespace):
    pass


def _handler(c: Config, path_args: list[str], users: dict[str, Any], **request: Any) -> Any:
    import logging

    return SimpleNamespace(
        settings={"config": c},
        path_args=path_args,
        request=SimpleNamespace(
            method=request.get("method", "POST"), body=request.get("body", b"")
        ),
        log=logging.getLogger("test"),
        current_user=users.get("admin"),
        find_user=users.get,
    )


@pytest.fixture
def hub_config() -> Config:
    c = Config()
    c.HubPolicy.policy = {
        "defaults": {"servers": {"max_named": 2}},
        "groups": {"big": {"servers": {"max_named": 4}}},
    }
    setup(c)
    return c


def _users() -> dict[str, Any]:
    group = SimpleNamespace(name="big")
    return {
        "alice": FakeUser(name="alice", groups=[], orm_spawners={"": 1, "a": 1, "b": 1}),
        "bob": FakeUser(name="bob", groups=[group], orm_spawners={"": 1, "a": 1, "b": 1}),
        "admin": FakeUser(name="admin", groups=[group], orm_spawners={}),
    }


async def test_limit_callable_uses_the_target_user(hub_config: Config) -> None:
    limit_for = hub_config.JupyterHub.named_server_limit_per_user
    users = _users()
    # the admin (group big) creates a server for alice: alice's limit applies
    with pytest.raises(web.HTTPError) as info:
        await limit_for(_handler(hub_config, ["alice", "c"], users))
    assert info.value.status_code == 403
    expected = "you have 2 of 2 named servers allowed for your groups (defaults). Delete one"
    assert expected in (info.value.log_message or "")
    assert await limit_for(_handler(hub_config, ["bob", "c"], users)) == 4
    assert await limit_for(_handler(hub_config, ["alice", "a"], users)) == 2  # existing
    assert await limit_for(_handler(hub_config, [], users)) == 4  # home page: current user


async def test_limit_callable_checks_names_and_renames(hub_config: Config) -> None:
    limit_for = hub_config.JupyterHub.named_server_limit_per_user
    users = _users()
    with pytest.raises(web.HTTPError) as info:
        await limit_for(_handler(hub_config, ["bob", "My_NB"], users))
    assert info.value.status_code == 400
    body = json.dumps({"name": "c"}).encode()
    with pytest.raises(web.HTTPError):
        await limit_for(_handler(hub_config, ["alice", ""], users, method="PATCH", body=body))
    assert await limit_for(_handler(hub_config, ["nobody", "x"], users)) == 0


TYPO_YAML = """\
hub:
  config:
    HubPolicy:
      policy:
        defaults: {profiles: [notebok]}
singleuser:
  profileList:
    - {display_name: Notebook, slug: notebook, default: true}
"""


@pytest.mark.parametrize(("extra", "code"), UNITS_RUNS.values(), ids=UNITS_RUNS.keys())
def test_check_names_a_profile_the_list_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], code: int
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(TYPO_YAML)
    assert main(["check", str(path), *extra]) == code
    err = capsys.readouterr().err
    assert (
        'warning: hub.config.HubPolicy.policy.defaults.profiles: names the profile "notebok", '
        "which singleuser.profileList does not have (its profiles: notebook); it is never "
        "offered"
    ) in err, err
