"""The hub image's Dockerfile, read as text (no container engine needed)."""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "quay.io/jupyterhub/k8s-hub"
BASE_USER = "1000"  # jovyan in the k8s-hub image


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        keyword, _, args = whole.partition(" ")
        result.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def substitute(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], value)


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions((ROOT / "Dockerfile").read_text(encoding="utf-8"))


def stages(dockerfile: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile:
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, args))
    return found


def global_args(dockerfile: list[tuple[str, str]]) -> dict[str, str]:
    args = {}
    for keyword, value in dockerfile:
        if keyword == "FROM":
            break
        if keyword == "ARG":
            name, _, default = value.partition("=")
            args[name] = default
    return args


def test_every_stage_starts_from_a_pinned_chart_hub_image(dockerfile):
    args = global_args(dockerfile)
    froms = [substitute(v.split()[0], args) for k, v in dockerfile if k == "FROM"]
    assert froms
    for image in froms:
        name, _, tag = image.rpartition(":")
        assert name == BASE_IMAGE, image
        assert re.fullmatch(r"4\.\d+\.\d+", tag), f"{image}: pin a 4.x release tag"


def test_the_image_ends_as_the_base_images_user(dockerfile):
    final = stages(dockerfile)[-1]
    users = [args for keyword, args in final if keyword == "USER"]
    assert users, "the final stage must say which user it runs as"
    assert users[-1] == BASE_USER
    assert final[-1] == ("USER", BASE_USER), "nothing may run after switching back"


def test_the_package_is_installed_without_a_pip_cache(dockerfile):
    final = stages(dockerfile)[-1]
    runs = [args for keyword, args in final if keyword == "RUN"]
    installs = [
        command
        for run in runs
        for command in run.split("&&")
        if shlex.split(command)[:2] == ["pip", "install"]
    ]
    assert installs, "the final stage must pip install the package"
    for command in installs:
        words = shlex.split(command)
        assert "--no-cache-dir" in words
        assert any(w.endswith(".whl") for w in words), "install the built wheel"


def _ignored(patterns: list[str], path: str) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            ignored = not negate
    return ignored


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("pyproject.toml", False),
        ("README.md", False),
        ("LICENSE", False),
        ("src/hubplugins/__init__.py", False),
        (".git/config", True),
        (".venv/bin/python", True),
        ("node_modules/x/index.js", True),
        ("tests/conftest.py", True),
        ("dev-packages/hubplugins-dev/pyproject.toml", True),
        ("docs/_build/index.html", True),
    ],
)
def test_dockerignore_sends_only_the_package(path, ignored):
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert _ignored(patterns, path) is ignored


def test_every_copied_path_is_sent_to_the_build(dockerfile):
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for keyword, args in dockerfile:
        if keyword != "COPY" or args.startswith("--from"):
            continue
        for source in args.split()[:-1]:
            assert (ROOT / source).exists(), source
            assert not _ignored(patterns, source.rstrip("/")), source


def test_the_user_is_the_one_the_chart_runs_the_hub_as(dockerfile):
    from .sites import chart_file

    values = yaml.safe_load(chart_file("values.yaml").read_text(encoding="utf-8"))
    run_as = values["hub"]["containerSecurityContext"]["runAsUser"]
    final = stages(dockerfile)[-1]
    assert [a for k, a in final if k == "USER"][-1] == str(run_as)


def test_the_chart_test_data_is_the_release_the_image_names(dockerfile):
    from .sites import CHART_DIR, CHART_VERSION

    tags = [a for k, a in dockerfile if k == "ARG" and a.startswith("HUB_IMAGE_TAG=")]
    assert tags == [f"HUB_IMAGE_TAG={CHART_VERSION}"]
    assert (CHART_DIR / "LICENSE").read_text(encoding="utf-8").startswith("BSD 3-Clause")
