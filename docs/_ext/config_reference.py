"""Sphinx extension: the configuration reference of hubplugins' own settings.

``.. hubplugins-config:: module.Class`` (an RST directive, used inside an
``eval-rst`` block) expands to autodoc_traits' ``autoconfigurable`` for that
class, listing only the settings hubplugins defines or overrides: the ones a
class inherits from KubeSpawner, JupyterHub or oauthenticator unchanged are
documented by those projects and left out here.

A setting's help text is reStructuredText. One whose layout docutils cannot
read (a literal block indented less than its paragraph, say) is shown as
preformatted text rather than breaking the build; the build log says which.
The check reads the Sphinx directives a help may use (``versionadded``,
``versionchanged``, ``deprecated``, ``code-block``, ``seealso``, ...) with
stand-ins of the same arguments and options, whose bodies it checks too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.directives.admonitions import SeeAlso
from sphinx.directives.code import CodeBlock
from sphinx.domains.changeset import VersionChange
from sphinx.util import logging
from sphinx.util.docutils import CustomReSTDispatcher, SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles
from traitlets import TraitType
from traitlets.utils.importstring import import_item

logger = logging.getLogger(__name__)

OWN_PREFIX = "hubplugins."
# docutils complaints about references only Sphinx resolves; not layout problems
_SPHINX_ONLY = ("Unknown interpreted text role", "Unknown target name", "undefined label")


def defining_class(cls: type, name: str) -> type:
    """The class in ``cls``'s MRO whose body defines trait ``name``."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return cls


def own_traits(cls: Any) -> list[str]:
    """Config traits of ``cls`` defined or overridden in hubplugins."""
    return sorted(
        name
        for name in cls.class_traits(config=True)
        if defining_class(cls, name).__module__.startswith(OWN_PREFIX)
    )


def inherited_traits(cls: Any) -> list[str]:
    own = set(own_traits(cls))
    return sorted(name for name in cls.class_traits(config=True) if name not in own)


def _body(self: Directive) -> list[nodes.Node]:
    """A version note or a "see also": its text after the required arguments, and its body."""
    node = nodes.container()
    text = " ".join(self.arguments[self.required_arguments :])
    if text:
        inline, messages = self.state.inline_text(text, self.lineno)
        node += nodes.paragraph(text, "", *inline)
        node += messages
    self.state.nested_parse(self.content, self.content_offset, node)
    return [node]


def _literal(self: Directive) -> list[nodes.Node]:
    """A code block: its lines as they are."""
    code = "\n".join(self.content)
    return [nodes.literal_block(code, code)]


def _stand_in(sphinx_directive: type[Directive], run: Callable[..., list[nodes.Node]]) -> type:
    """A docutils directive taking the arguments and options ``sphinx_directive`` takes."""
    signature = (
        "required_arguments",
        "optional_arguments",
        "final_argument_whitespace",
        "option_spec",
        "has_content",
    )
    attrs = {name: getattr(sphinx_directive, name) for name in signature}
    return type(f"Plain{sphinx_directive.__name__}", (Directive,), {**attrs, "run": run})


_VERSION_NOTE = _stand_in(VersionChange, _body)
_CODE_BLOCK = _stand_in(CodeBlock, _literal)
# Sphinx's own directives a help may use, as plain docutils can read them; every
# other directive is docutils' own (Sphinx's variants of those need a build env)
SPHINX_STAND_INS: dict[str, type] = {
    **dict.fromkeys(
        (
            "versionadded",
            "version-added",
            "versionchanged",
            "version-changed",
            "versionremoved",
            "version-removed",
            "deprecated",
            "version-deprecated",
        ),
        _VERSION_NOTE,
    ),
    "code-block": _CODE_BLOCK,
    "sourcecode": _CODE_BLOCK,
    "seealso": _stand_in(SeeAlso, _body),
}


def _docutils_own(lookup: Any, attr: str) -> Any:
    """docutils' lookup behind Sphinx's dispatchers (each keeps the one it replaced)."""
    while isinstance(getattr(lookup, "__self__", None), CustomReSTDispatcher):
        lookup = getattr(lookup.__self__, attr)
    return lookup


@contextmanager
def _plain_docutils() -> Iterator[None]:
    """Directives and roles as plain docutils knows them, plus :data:`SPHINX_STAND_INS`.

    Inside a Sphinx build the registries hold Sphinx's directives and roles, which
    need a build environment a plain docutils parse does not have.
    """
    saved = (directives._directives, roles._roles, directives.directive, roles.role)
    directives._directives = dict(SPHINX_STAND_INS)
    roles._roles = {}
    directives.directive = _docutils_own(directives.directive, "directive_func")
    roles.role = _docutils_own(roles.role, "role_func")
    try:
        yield
    finally:
        directives._directives, roles._roles, directives.directive, roles.role = saved


def layout_problems(text: str) -> list[str]:
    """Layout errors docutils finds in ``text`` (reference roles are not checked)."""
    with _plain_docutils():
        doctree = publish_doctree(
            text,
            settings_overrides={"report_level": 5, "halt_level": 5, "warning_stream": False},
        )
    problems = []
    for message in doctree.findall(nodes.system_message):
        body = message.astext()
        if message["level"] >= 2 and not any(s in body for s in _SPHINX_ONLY):
            problems.append(body.splitlines()[0] if body else "?")
    return problems


class HubpluginsConfigDirective(SphinxDirective):
    """``autoconfigurable`` limited to the settings hubplugins defines."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        path = self.arguments[0]
        cls = import_item(path)
        self.env.note_dependency(__file__)
        lines = [f".. autoconfigurable:: {path}"]
        excluded = inherited_traits(cls)
        if excluded:
            lines.append(f"   :exclude-members: {', '.join(excluded)}")
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source=path), container)
        return container.children


def _readable_help(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    if not isinstance(obj, TraitType) or not name.startswith(OWN_PREFIX):
        return
    problems = layout_problems("\n".join(lines))
    if problems:
        logger.info("help of %s shown preformatted: %s", name, "; ".join(problems))
        lines[:] = ["::", "", *("    " + line for line in lines), ""]


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("autodoc_traits")
    app.add_directive("hubplugins-config", HubpluginsConfigDirective)
    app.connect("autodoc-process-docstring", _readable_help)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
