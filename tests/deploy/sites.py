"""The site values files under test and the chart they are written for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .chart_config import merge_values

ROOT = Path(__file__).resolve().parents[2]
VALUES_DIR = ROOT / "helm-values"
# The Zero-to-JupyterHub chart's values.yaml and values.schema.yaml of the
# release the Dockerfile names, kept as test data (with the chart's licence)
CHART_VERSION = "4.4.0"
CHART_DIR = Path(__file__).resolve().parent / f"z2jh-{CHART_VERSION}"
SITES = ["skao", "bioimage", "cerit"]


def site_values(site: str) -> dict[str, Any]:
    """The site's values file as written."""
    return yaml.safe_load((VALUES_DIR / f"{site}.yaml").read_text(encoding="utf-8"))


def chart_file(name: str) -> Path:
    """A file of the chart; a missing one fails the test, never skips it."""
    path = CHART_DIR / name
    assert path.is_file(), f"the chart's {name} is missing from {CHART_DIR.name}/"
    return path


def merged_values(site: str) -> dict[str, Any]:
    """What helm renders with: the chart's defaults with the site file merged over them."""
    defaults = yaml.safe_load(chart_file("values.yaml").read_text(encoding="utf-8"))
    return merge_values(defaults, site_values(site))


def policy_of(values: dict[str, Any]) -> dict[str, Any]:
    return values["hub"]["config"]["HubPolicy"]["policy"]
