"""Two releases in one namespace sharing GPUs: the overlays over a site's values."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from hubplugins.policy.table import PolicyTable

from .chart_config import merge_values
from .sites import VALUES_DIR, chart_file, policy_of, site_values

RELEASES = ["gpu", "storage"]
SITE = "bioimage"


def overlay(release: str) -> dict:
    return yaml.safe_load((VALUES_DIR / f"shared-gpus-{release}.yaml").read_text("utf-8"))


def merged(release: str) -> dict:
    defaults = yaml.safe_load(chart_file("values.yaml").read_text(encoding="utf-8"))
    return merge_values(merge_values(defaults, site_values(SITE)), overlay(release))


@pytest.mark.parametrize("release", RELEASES)
def test_overlay_matches_the_chart_schema(release):
    schema = yaml.safe_load(chart_file("values.schema.yaml").read_text(encoding="utf-8"))
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(merged(release))]
    assert errors == []


def test_releases_have_names_of_their_own():
    values = [merged(r) for r in RELEASES]
    names = [v["fullnameOverride"] for v in values]
    templates = [v["singleuser"]["podNameTemplate"] for v in values]
    callbacks = [v["hub"]["config"]["GitHubAuthenticator"]["oauth_callback_url"] for v in values]
    for found in (names, templates, callbacks):
        assert len(set(found)) == len(RELEASES), found
    assert all(t.endswith("{user_server}") for t in templates)


def test_both_hubs_pool_the_same_gpus():
    pools = []
    for release in RELEASES:
        table = PolicyTable.from_dict(policy_of(merged(release)))
        pools.append(dict(table.cluster.gpu_pool))
    assert pools == [{"nvidia.com/gpu": 4}] * len(RELEASES)
