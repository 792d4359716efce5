"""The hub image's Dockerfile, read as text (no container engine needed)."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


# -- the image, the constraints and ./dev agree ---------------------------------

CONSTRAINTS = ROOT / "hub-image-constraints.txt"
PYTHON_LINE = re.compile(
    r"^# This file is autogenerated by pip-compile with Python (\d+\.\d+)$", re.M
)


def constraints() -> dict[str, str]:
    """Package (canonical name) -> pinned version."""
    pins = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            assert version, f"not a pin: {line}"
            pins[canonicalize_name(name)] = version
    return pins


def image_python() -> str:
    (version,) = PYTHON_LINE.findall(CONSTRAINTS.read_text(encoding="utf-8"))
    return str(version)


def test_the_image_installs_exactly_the_constraints(dockerfile):
    final = stages(dockerfile)[-1]
    copies = [args.split() for keyword, args in final if keyword == "COPY"]
    (target,) = [words[-1] for words in copies if words[0] == CONSTRAINTS.name]
    runs = [args for keyword, args in final if keyword == "RUN"]
    installs = [
        shlex.split(command)
        for run in runs
        for command in run.split("&&")
        if shlex.split(command)[:2] == ["pip", "install"]
    ]
    assert installs
    for words in installs:
        assert words[words.index("--constraint") + 1] == target
    assert any(shlex.split(c) == ["pip", "check"] for run in runs for c in run.split("&&"))


def test_the_image_python_is_the_constraints(dockerfile):
    final = stages(dockerfile)[-1]
    runs = " ".join(args for keyword, args in final if keyword == "RUN")
    major, minor = image_python().split(".")
    assert f"sys.version_info[:2] == ({major}, {minor})" in runs


def test_the_constraints_pin_what_the_package_needs():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = constraints()
    for text in pyproject["project"]["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        # pip can bring nothing into the image that is not pinned here
        assert name in pins, f"{requirement.name} is not pinned in {CONSTRAINTS.name}"
        assert requirement.specifier.contains(pins[name]), (text, pins[name])
    # the image the Dockerfile names
    from .sites import CHART_VERSION

    assert f"quay.io/jupyterhub/k8s-hub:{CHART_VERSION}," in CONSTRAINTS.read_text(encoding="utf-8")
    # the changes to the image's pins, each said where it is made: JupyterHub's
    # last 5.5 release (security fixes), the KubeSpawner the package needs and
    # the JOSE library it adds
    assert pins["jupyterhub"] == "5.5.4"
    assert pins["jupyterhub-kubespawner"] == "7.1.0"
    lines = CONSTRAINTS.read_text(encoding="utf-8").splitlines()
    changed = [lines[i - 1] for i, line in enumerate(lines) if line.startswith("    # hubplugins:")]
    assert changed == ["joserfc==1.8.0", "jupyterhub==5.5.4", "jupyterhub-kubespawner==7.1.0"]


def test_dev_builds_the_jupyterhub_55_environment_from_the_constraints():
    dev = (ROOT / "dev").read_text(encoding="utf-8")
    lines = [
        line
        for line in dev.splitlines()
        if line.startswith(("IMAGE_CONSTRAINTS=", "IMAGE_PYTHON="))
    ]
    assert len(lines) == 2
    script = "set -eu\n" + "\n".join(lines) + '\necho "$IMAGE_CONSTRAINTS $IMAGE_PYTHON"\n'
    out = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [CONSTRAINTS.name, image_python()]
    assert 'venv .venv-jh55 "$python_55" --constraint "$IMAGE_CONSTRAINTS"' in dev


def test_the_jupyterhub_55_environment_is_the_images():
    """What the 5.5 hubs of the tests run: the image's Python and every pin it holds."""
    python = ROOT / ".venv-jh55" / "bin" / "python"
    assert python.exists(), "no JupyterHub 5.5 environment: run ./dev setup"
    script = (
        "import importlib.metadata as m, json, sys;"
        "print(json.dumps(['%d.%d' % sys.version_info[:2],"
        " {d.metadata['Name']: d.version for d in m.distributions()}]))"
    )
    out = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True)
    version, dists = json.loads(out.stdout)
    assert version == image_python(), "the 5.5 environment is not the image's Python: ./dev setup"
    installed = {canonicalize_name(name): v for name, v in dists.items()}
    pins = constraints()
    for name in ("jupyterhub", "jupyterhub-kubespawner", "oauthenticator", "tornado", "ldap3"):
        assert name in installed, name
    wrong = {n: (installed[n], pins[n]) for n in pins if n in installed and installed[n] != pins[n]}
    assert wrong == {}, "installed, pinned; run ./dev setup"
