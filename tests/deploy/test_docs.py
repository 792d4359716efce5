"""The documentation builds without a single warning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

pytest.importorskip("sphinx", reason="the docs extra (sphinx, myst-parser, autodoc-traits)")
pytest.importorskip("myst_parser", reason="the docs extra (sphinx, myst-parser, autodoc-traits)")
pytest.importorskip("autodoc_traits", reason="the docs extra (sphinx, myst-parser, autodoc-traits)")
pytest.importorskip("pydata_sphinx_theme", reason="the docs extra (pydata-sphinx-theme)")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        "html",
        "-d",
        str(out / "doctrees"),
        str(DOCS),
        str(out / "html"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    return out / "html"


def test_docs_build_without_warnings(built):
    assert (built / "index.html").is_file()


# (case id, page, text the page must show)
PAGES = [
    ("policy-table-from-schema", "policy.html", "servers.max_named"),
    ("policy-cluster-from-schema", "policy.html", "cluster.gpu_pool"),
    ("reference-spawner", "reference.html", "c.PolicySpawner.policy_progress"),
    ("reference-policy", "reference.html", "c.HubPolicy.policy_file"),
    ("reference-directory", "reference.html", "c.DirectoryAuthenticator.server_urls"),
    ("reference-github", "reference.html", "c.GitHubAuthenticator.admin_teams"),
    ("install-values", "install.html", "hubplugins.setup(c)"),
    ("benchmarks-rows", "benchmarks.html", "concurrent LDAP sign-ins"),
    ("reference-lifecycle", "reference.html", "c.HubLifecycle.enabled"),
    ("cli-check-json", "cli.html", "profile_resource_issues"),
    ("cli-plan", "cli.html", "admin:server_state"),
    ("troubleshooting-units", "troubleshooting.html", "8·2³⁰"),
    ("troubleshooting-cullers", "troubleshooting.html", "cull.removeNamedServers"),
    ("troubleshooting-directory", "troubleshooting.html", "recheck_unavailable"),
    ("upgrading-units", "upgrading.html", "two readings"),
    ("jupyter-theme", "index.html", "pydata-sphinx-theme"),
]


@pytest.mark.parametrize(("page", "text"), [pytest.param(p, t, id=i) for i, p, t in PAGES])
def test_page_shows(built, page, text):
    assert text in (built / page).read_text(encoding="utf-8")


def test_reference_leaves_out_inherited_settings(built):
    html = (built / "reference.html").read_text(encoding="utf-8")
    assert "c.PolicySpawner.profile_list" not in html  # KubeSpawner's, documented there


def test_policy_reference_has_every_key(built):
    from hubplugins.policy.table import FIELDS

    html = (built / "policy.html").read_text(encoding="utf-8")
    missing = [key for key in FIELDS if key not in html]
    assert missing == []


def test_refusals_table_has_a_row_per_catalogue_entry(built):
    import html
    import re

    from hubplugins.policy.catalogue import CATALOGUE

    page = (built / "refusals.html").read_text(encoding="utf-8")
    table = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert table.count("<tr") == len(CATALOGUE)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", table)).split())
    missing = [e.rule for e in CATALOGUE if " ".join(e.example.split()) not in text]
    assert missing == []
