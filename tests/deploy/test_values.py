"""Each site's helm values: valid for the chart, a valid policy, the site's promises."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from hubplugins.cli import main as cli_main
from hubplugins.policy.quantities import parse_cpu, parse_duration, parse_memory
from hubplugins.policy.table import PolicyTable

from .sites import SITES, VALUES_DIR, chart_file, merged_values, policy_of, site_values

SETUP_LINE = "import hubplugins; hubplugins.setup(c)"


@pytest.fixture(scope="module")
def chart_schema() -> dict:
    return yaml.safe_load(chart_file("values.schema.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("site", SITES)
def test_values_match_the_chart_schema(site, chart_schema):
    values = merged_values(site)
    validator = jsonschema.Draft7Validator(chart_schema)
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(values)
    ]
    assert errors == []


def test_schema_check_catches_a_misplaced_key(chart_schema):
    values = merged_values("skao")
    values["hub"]["extraconfig"] = {"x": "pass"}  # wrong case: the chart would ignore it
    assert not jsonschema.Draft7Validator(chart_schema).is_valid(values)


@pytest.mark.parametrize("site", SITES)
def test_values_wire_hubplugins(site):
    values = site_values(site)
    hub = values["hub"]
    assert hub["config"]["JupyterHub"]["spawner_class"] == "hubplugins.PolicySpawner"
    assert hub["extraConfig"] == {"hubplugins": SETUP_LINE}
    assert hub["image"]["name"].endswith("hubplugins-hub")
    assert hub["image"]["tag"]
    # the lifecycle service does the idle work; the chart's culler must be off
    assert values["cull"]["enabled"] is False


@pytest.mark.parametrize("site", SITES)
def test_policy_is_valid(site, capsys):
    table = PolicyTable.from_dict(policy_of(site_values(site)))
    assert table.resolve([]) is not None
    assert cli_main(["check", str(VALUES_DIR / f"{site}.yaml")]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("site", SITES)
def test_profiles_named_by_the_policy_exist(site):
    values = site_values(site)
    slugs = {p["slug"] for p in values["singleuser"]["profileList"]}
    policy = policy_of(values)
    sections = [policy["defaults"], *policy.get("groups", {}).values()]
    for section in sections:
        for slug in section.get("profiles", []):
            assert slug == "*" or slug in slugs


def _resolved(site: str, groups: list[str]):
    return PolicyTable.from_dict(policy_of(site_values(site))).resolve(groups)


# (case id, site, groups, dotted attribute of the resolved policy, expected)
PROMISES = [
    ("skao-named", "skao", [], "servers.max_named", 5),
    ("skao-name-length", "skao", [], "servers.name_max_length", 20),
    ("skao-idle-stop", "skao", [], "idle.stop_after", parse_duration("2h")),
    ("skao-cpu", "skao", [], "resources.cpu.max", parse_cpu(1)),
    ("skao-memory", "skao", [], "resources.memory.max", parse_memory("2G")),
    ("skao-storage", "skao", [], "storage.capacity", parse_memory("2Gi")),
    ("skao-delete-with-server", "skao", [], "storage.delete_with_server", True),
    ("skao-profiles", "skao", [], "profiles", ("default", "test")),
    ("bio-public-memory", "bioimage", ["public"], "resources.memory.max", parse_memory("8G")),
    ("bio-public-cpu", "bioimage", ["public"], "resources.cpu.max", parse_cpu(4)),
    ("bio-public-gpu", "bioimage", ["public"], "resources.gpu.max", 0),
    ("bio-auth-memory", "bioimage", ["authenticated"], "resources.memory.max", 16 * 10**9),
    ("bio-auth-cpu", "bioimage", ["authenticated"], "resources.cpu.max", parse_cpu(8)),
    ("bio-auth-storage", "bioimage", ["authenticated"], "storage.capacity", 15 * 10**9),
    ("bio-gpu-memory", "bioimage", ["authenticated", "gpu-beta"], "resources.memory.max", 32e9),
    ("bio-gpu-max", "bioimage", ["authenticated", "gpu-beta"], "resources.gpu.max", 2),
    ("bio-gpu-profiles", "bioimage", ["gpu-beta"], "profiles", ("*",)),
    ("cerit-guarantee-cpu", "cerit", [], "resources.cpu.guarantee", parse_cpu(1)),
    ("cerit-guarantee-mem", "cerit", [], "resources.memory.guarantee", parse_memory("1G")),
    ("cerit-max-cpu", "cerit", [], "resources.cpu.max", parse_cpu(8)),
    ("cerit-max-mem", "cerit", [], "resources.memory.max", parse_memory("16G")),
    ("cerit-scope", "cerit", [], "storage.scope", "user"),
    ("cerit-mount", "cerit", [], "storage.mount_path", "/home/{username}-nfs-pvc"),
    ("cerit-named", "cerit", [], "servers.max_named", 5),
    ("cerit-delete-after", "cerit", [], "idle.delete_after", parse_duration("7d")),
    ("cerit-ssh", "cerit", [], "ssh_keys", True),
    ("cerit-large-max-cpu", "cerit", ["large"], "resources.cpu.max", parse_cpu(16)),
    ("cerit-large-max-mem", "cerit", ["large"], "resources.memory.max", parse_memory("64G")),
]


@pytest.mark.parametrize(
    ("site", "groups", "attribute", "expected"),
    [pytest.param(s, g, a, e, id=i) for i, s, g, a, e in PROMISES],
)
def test_site_promises(site, groups, attribute, expected):
    value = _resolved(site, groups)
    for part in attribute.split("."):
        value = getattr(value, part)
    assert value == expected


def test_bioimage_gpu_pool():
    table = PolicyTable.from_dict(policy_of(site_values("bioimage")))
    assert dict(table.cluster.gpu_pool) == {"nvidia.com/gpu": 4}


CONFIG_CLASSES = {
    "JupyterHub": "jupyterhub.app.JupyterHub",
    "Authenticator": "jupyterhub.auth.Authenticator",
    "HubPolicy": "hubplugins.hub.config.HubPolicy",
    "DirectoryAuthenticator": "hubplugins.auth.directory.DirectoryAuthenticator",
    "GitHubAuthenticator": "hubplugins.auth.github.GitHubAuthenticator",
    "OIDCAuthenticator": "hubplugins.auth.oidc.OIDCAuthenticator",
}


def _config_traits(dotted: str) -> set[str]:
    from traitlets.utils.importstring import import_item

    return set(import_item(dotted).class_traits(config=True))


@pytest.mark.parametrize("site", SITES)
def test_hub_config_names_real_settings(site):
    """A misspelt setting would only be a warning in the hub log: catch it here."""
    for section, settings in site_values(site)["hub"]["config"].items():
        assert section in CONFIG_CLASSES, f"hub.config.{section}: add its class to the test"
        unknown = set(settings) - _config_traits(CONFIG_CLASSES[section])
        assert not unknown, f"hub.config.{section}: {sorted(unknown)}"


@pytest.mark.parametrize("site", SITES)
def test_profile_overrides_name_real_settings(site):
    traits = _config_traits("hubplugins.spawner.PolicySpawner")
    for profile in site_values(site)["singleuser"]["profileList"]:
        overrides = [profile.get("kubespawner_override") or {}]
        for option in (profile.get("profile_options") or {}).values():
            for choice in (option.get("choices") or {}).values():
                overrides.append(choice.get("kubespawner_override") or {})
        for override in overrides:
            assert set(override) <= traits, (profile["slug"], sorted(set(override) - traits))
