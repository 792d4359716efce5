"""Every setting hubplugins declares is configurable and has help an admin can act on.

Each help ends with ``.. versionadded::`` and shows the setting both as
``c.Class.trait = ...`` (``jupyterhub_config.py``) and as the chart's values
(``hub:`` / ``config:`` / ``Class:`` / ``trait: ...``); the two examples set the
same value.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from traitlets import HasTraits, TraitType
from traitlets.config import Config, Configurable

import hubplugins

ROOT = Path(__file__).resolve().parents[2]
OWN = "hubplugins."
OPTION = re.compile(r"^\s+:[\w-]+:")


def _modules() -> list[Any]:
    found = []
    for info in pkgutil.walk_packages(hubplugins.__path__, OWN):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue  # running it is starting the program
        found.append(importlib.import_module(info.name))
    return found


def _classes() -> list[type[Configurable]]:
    seen: dict[str, type[Configurable]] = {}
    for module in _modules():
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, Configurable)
                and obj.__module__.startswith(OWN)
            ):
                seen[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [seen[key] for key in sorted(seen)]


CLASSES = _classes()


def _upstream(cls: type, name: str) -> TraitType | None:
    """The trait ``name`` as a class outside hubplugins declares it, if one does."""
    for klass in cls.__mro__[1:]:
        trait = vars(klass).get(name)
        if isinstance(trait, TraitType) and not klass.__module__.startswith(OWN):
            return trait
    return None


def _declared() -> list[tuple[type, str, TraitType]]:
    """(class, name, trait) of each trait a hubplugins class body declares; a
    re-declaration of a runtime trait of JupyterHub's (not configurable there) is
    no setting and is left out."""
    found = []
    for cls in CLASSES:
        for name, trait in vars(cls).items():
            if not isinstance(trait, TraitType):
                continue
            upstream = _upstream(cls, name)
            if upstream is not None and not upstream.metadata.get("config"):
                continue
            found.append((cls, name, trait))
    return found


DECLARED = _declared()


def _settable_in(cls: type, name: str) -> list[str]:
    """Names of the concrete classes (no mixins) of the package that take setting ``name``."""
    names = [
        klass.__name__
        for klass in CLASSES
        if issubclass(klass, cls) and name in klass.class_trait_names(config=True)
    ]
    concrete = [n for n in names if not n.endswith("Mixin") and n != "Revocation"]
    return concrete or names


def _help(trait: TraitType) -> list[str]:
    return inspect.cleandoc(trait.help).splitlines()


def _blocks(lines: list[str], language: str) -> list[str]:
    """The bodies of the help's ``.. code-block:: <language>`` blocks."""
    bodies = []
    for i, line in enumerate(lines):
        if line.strip() != f".. code-block:: {language}":
            continue
        indent = len(line) - len(line.lstrip())
        body = []
        for following in lines[i + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        while body and OPTION.match(body[0]):  # the directive's options (a caption, ...)
            body.pop(0)
        bodies.append(inspect.cleandoc("\n".join(body)))
    return bodies


def _probe(name: str, trait: TraitType, value: Any) -> Any:
    """``value`` as the trait takes it (a YAML list for a set, say), or its error."""
    probe = type("Probe", (HasTraits,), {name: copy.deepcopy(trait)})()
    setattr(probe, name, value)
    return getattr(probe, name)


def test_the_walk_finds_every_configurable_class():
    names = {cls.__name__ for cls in CLASSES}
    assert {
        "HubPolicy",
        "HubDatabase",
        "HubLifecycle",
        "PolicySpawner",
        "DirectoryAuthenticator",
        "GitHubAuthenticator",
        "OIDCAuthenticator",
        "MultiAuthenticator",
        "GroupMapMixin",
        "Revocation",
    } <= names
    assert len(DECLARED) >= 50


CASES = [
    pytest.param(cls, name, trait, id=f"{cls.__name__}.{name}") for cls, name, trait in DECLARED
]


@pytest.mark.parametrize(("cls", "name", "trait"), CASES)
def test_setting_is_configurable_with_help(cls, name, trait):
    assert trait.metadata.get("config") is True
    lines = _help(trait)
    assert len(" ".join(lines)) > 80, "help too short to act on"
    assert lines[-1] == ".. versionadded:: 0.1", "help ends with its versionadded"


@pytest.mark.parametrize(("cls", "name", "trait"), CASES)
def test_help_shows_both_config_forms(cls, name, trait):
    lines = _help(trait)
    classes = _settable_in(cls, name)
    python = [
        body
        for body in _blocks(lines, "python")
        if any(f"c.{klass}.{name} = " in body for klass in classes)
    ]
    values = [body for body in _blocks(lines, "yaml") if body.startswith("hub:\n  config:\n")]
    assert python, f"no example c.<{'|'.join(classes)}>.{name} = ... in a python code-block"
    assert values, "no example hub: config: ... in a yaml code-block"

    c = Config()
    exec(python[0], {"c": c})  # the example as jupyterhub_config.py runs it
    (klass,) = c.keys()
    from_python = c[klass][name]
    chart = yaml.safe_load(values[0])
    assert list(chart["hub"]["config"]) == [klass], "both examples set the same class"
    from_values = chart["hub"]["config"][klass][name]
    assert _probe(name, trait, from_python) == _probe(name, trait, from_values)


@pytest.mark.parametrize(("cls", "name", "trait"), CASES)
def test_help_layout_reads(cls, name, trait):
    pytest.importorskip("sphinx", reason="the docs extra")
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        from config_reference import layout_problems
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))
    assert layout_problems("\n".join(_help(trait))) == []
