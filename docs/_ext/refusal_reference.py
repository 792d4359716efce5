"""Sphinx extension: the table of refusals users see, rendered from the rule catalogue.

``{refusal-catalogue}`` (a directive, no arguments) renders one table row per
entry of :data:`hubplugins.policy.catalogue.CATALOGUE`: the HTTP status; when
it applies and the rule id; the message the user reads (the rule's own answer
to its case) and what to do. A rule added to the code without an entry fails
tests/policy/test_catalogue.py, so the page cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from hubplugins.policy.catalogue import CATALOGUE

HEADERS = ["Status", "When (rule)", "Example message, and what to do"]
WIDTHS = [8, 32, 60]


def rows() -> list[list[list[str]]]:
    """Per catalogue entry, in its order: its cells, each a list of paragraphs (MyST inline).

    The example is inline code: no message has a backtick (the tests check).
    """
    return [
        [
            [str(entry.status)],
            [entry.when, f"`{entry.rule}`"],
            [f"`{entry.example}`", entry.remedy],
        ]
        for entry in CATALOGUE
    ]


def _cell(directive: SphinxDirective, paragraphs: list[str]) -> nodes.entry:
    entry = nodes.entry()
    for text in paragraphs:
        paragraph = nodes.paragraph()
        inline, messages = directive.state.inline_text(text, directive.lineno)
        paragraph.extend(inline)
        entry += paragraph
        entry.extend(messages)
    return entry


class RefusalCatalogueDirective(SphinxDirective):
    """Every refusal a user can meet."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        table = nodes.table(classes=["refusal-catalogue"])
        group = nodes.tgroup(cols=len(HEADERS))
        table += group
        for width in WIDTHS:
            group += nodes.colspec(colwidth=width)
        head, body = nodes.thead(), nodes.tbody()
        group += head
        group += body
        head += nodes.row("", *(_cell(self, [h]) for h in HEADERS))
        for cells in rows():
            body += nodes.row("", *(_cell(self, c) for c in cells))
        return [table]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("refusal-catalogue", RefusalCatalogueDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
