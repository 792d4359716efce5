"""Sphinx configuration of the hubplugins documentation.

Build: ``sphinx-build -W -b html docs docs/_build/html`` (the ``docs`` extra
installs Sphinx, MyST, autodoc-traits and the PyData theme).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import hubplugins  # noqa: E402

project = "hubplugins"
author = "the hubplugins contributors"
copyright = "the hubplugins contributors"
version = release = hubplugins.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "autodoc_traits",
    "policy_reference",
    "config_reference",
    "refusal_reference",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "none"

# the theme of the Jupyter projects' documentation (JupyterHub, Zero to JupyterHub)
html_theme = "pydata_sphinx_theme"
html_title = f"hubplugins {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
