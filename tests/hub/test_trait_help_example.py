"""A setting's example comes out in both forms from one value, laid out alike."""

from __future__ import annotations

import inspect

import pytest
import yaml
from traitlets.config import Config

from hubplugins.hub.trait_help import example, trait_help


def _bodies(text: str) -> tuple[str, str]:
    """The python and the yaml code block of an example, without their options."""
    python, values = text.split(".. code-block:: yaml")
    python = python.split(":caption: jupyterhub_config.py", 1)[1]
    values = values.split(":caption: Zero to JupyterHub values (config.yaml)", 1)[1]
    values = values.split(".. versionadded::", 1)[0]
    return inspect.cleandoc(python), inspect.cleandoc(values)


VALUES = [
    pytest.param(True, id="bool"),
    pytest.param(None, id="none"),
    pytest.param(2.5, id="float"),
    pytest.param('it\'s "quoted"', id="quotes"),
    pytest.param(["a", "b"], id="short-list"),
    pytest.param([f"ldaps://dc{i}.ad.example.org" for i in range(4)], id="long-list"),
    pytest.param({"x": {"y": [1, 2], "z": "long " * 30}}, id="nested"),
    pytest.param([{"class": "a.B", "url_prefix": "b" * 60}, {"class": "c"}], id="list-of-maps"),
]


@pytest.mark.parametrize("value", VALUES)
def test_both_forms_set_the_value(value):
    python, values = _bodies(example("HubPolicy", "setting", value))
    c = Config()
    exec(python, {"c": c})
    assert c.HubPolicy.setting == value
    assert yaml.safe_load(values) == {"hub": {"config": {"HubPolicy": {"setting": value}}}}
    assert all(len(line) <= 88 for line in python.splitlines() if "long long" not in line)


def test_a_list_is_inline_in_both_forms_or_in_neither():
    short = example("C", "urls", ["a", "b"])
    assert 'c.C.urls = ["a", "b"]' in short
    assert "urls: [a, b]" in short
    long = example("C", "urls", [f"ldaps://dc{i}.ad.example.org" for i in range(4)])
    assert 'c.C.urls = [\n        "ldaps://dc0.ad.example.org",\n' in long
    assert "urls:\n            - ldaps://dc0.ad.example.org\n" in long


def test_a_set_shows_sorted_as_a_set_and_a_list():
    python, values = _bodies(example("C", "groups", {"b", "a"}))
    assert python == 'c.C.groups = {"a", "b"}'
    assert values.endswith("groups: [a, b]")


def test_a_long_string_goes_on_its_own_line():
    python, _ = _bodies(example("DirectoryAuthenticator", "user_search_filter", "(x)" * 25))
    assert python.splitlines()[0] == "c.DirectoryAuthenticator.user_search_filter = ("


def test_comment_and_further_settings_show_in_both_forms():
    python, values = _bodies(
        example("C", "interval", 86400, comment="once a day", also={"other": ["x"]})
    )
    assert python == 'c.C.interval = 86400  # once a day\nc.C.other = ["x"]'
    assert "      interval: 86400  # once a day\n      other: [x]" in values


def test_help_is_the_words_then_the_example():
    text = trait_help(
        """
        Some words
        on two lines.
        """,
        example("C", "flag", False),
    )
    lines = text.splitlines()
    assert lines[:3] == ["Some words", "on two lines.", ""]
    assert lines[3] == ".. code-block:: python"
    assert lines[-1] == ".. versionadded:: 0.1"
