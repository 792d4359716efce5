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
    ("reference-versionadded", "reference.html", "Added in version 0.1"),
    ("reference-values-form", "reference.html", "Zero to JupyterHub values (config.yaml)"),
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


def _layout_problems(text: str) -> list[str]:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from config_reference import layout_problems
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    return layout_problems(text)


# (case id, help text) that reads as it is
READABLE = [
    ("versionadded", "Seconds.\n\n.. versionadded:: 0.1\n"),
    ("versionchanged-text", ".. versionchanged:: 0.2 Now in *seconds*.\n"),
    ("versionchanged-body", ".. versionchanged:: 0.2\n\n   Was minutes.\n"),
    ("deprecated", ".. deprecated:: 0.3\n   Use ``interval``.\n"),
    ("code-block", ".. code-block:: yaml\n    :caption: values\n\n    hub:\n      config: {}\n"),
    ("sourcecode", ".. sourcecode:: python\n\n    c.X.y = 1\n"),
    ("seealso", ".. seealso:: ``HubPolicy.policy``\n"),
    ("docutils-note", ".. note:: A note.\n"),
    ("sphinx-role", "See :attr:`HubPolicy.policy`.\n"),
]

# (case id, help text) whose layout is broken, with or without Sphinx directives
BROKEN = [
    ("versionadded-no-version", ".. versionadded::\n"),
    ("versionadded-bad-body", ".. versionadded:: 0.1\n\n   Example::\n\n  c.X.y = 1\n"),
    ("versionchanged-bad-text", ".. versionchanged:: 0.2 Now *seconds.\n"),
    ("code-block-unknown-option", ".. code-block:: python\n    :colour: red\n\n    x = 1\n"),
    ("code-block-two-languages", ".. code-block:: python yaml\n\n    x = 1\n"),
    ("unknown-directive", ".. versionadd:: 0.1\n"),
    ("literal-not-indented", "Example::\n\nc.X.y = 1\n"),
    ("unexpected-unindent", "Text one\n   indented more\nback.\n"),
]


@pytest.mark.parametrize("text", [pytest.param(t, id=i) for i, t in READABLE])
def test_help_layout_check_reads_sphinx_directives(text):
    assert _layout_problems(text) == []


@pytest.mark.parametrize("text", [pytest.param(t, id=i) for i, t in BROKEN])
def test_help_layout_check_finds_broken_layout(text):
    assert _layout_problems(text) != []


def test_help_layout_check_inside_a_build_leaves_sphinx_registries_alone():
    """Inside a build docutils' registries hold Sphinx's directives, which need a
    build environment: the check reads its stand-ins, then gives the registries back."""
    from docutils.parsers.rst import directives
    from sphinx.domains.changeset import VersionChange
    from sphinx.util.docutils import docutils_namespace

    with docutils_namespace():
        directives.register_directive("versionadded", VersionChange)
        before = directives.directive
        assert _layout_problems(".. versionadded:: 0.1\n") == []
        assert directives._directives["versionadded"] is VersionChange
        assert directives.directive is before
