"""Sphinx extension: the table of refusals users see, rendered from the rule catalogue.

``{refusal-catalogue}`` (a directive, no arguments) renders one table row per
entry of :data:`hubplugins.policy.catalogue.CATALOGUE`: the HTTP status, the
rule id, when it applies, the message the user reads (the rule's own answer
to its case) and what to do. A rule added to the code without an entry fails
tests/policy/test_catalogue.py, so the page cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from policy_reference import build_table
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from hubplugins.policy.catalogue import CATALOGUE

HEADERS = ["Status", "Rule", "When", "Example message", "What to do"]


def rows() -> list[list[str]]:
    """One row of cell texts (MyST inline markup) per catalogue entry, in its order.

    The example is inline code: no message has a backtick (the tests check).
    """
    return [
        [str(entry.status), f"`{entry.rule}`", entry.when, f"`{entry.example}`", entry.remedy]
        for entry in CATALOGUE
    ]


class RefusalCatalogueDirective(SphinxDirective):
    """Every refusal a user can meet."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        return [build_table(self, HEADERS, rows(), [6, 16, 22, 40, 16])]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("refusal-catalogue", RefusalCatalogueDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
