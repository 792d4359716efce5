"""The release: what ``pip install hubplugins`` and the hub image get.

The sdist and the wheel are built as ``python -m build`` builds them (the
wheel from the unpacked sdist, so that a file the sdist forgets fails here),
in one isolated build environment for both; ``twine check`` reads them; the
wheel is installed into a clean virtual environment made for the test and
imported there, with the dependencies taken from this environment's
site-packages (``--no-deps``: nothing is downloaded). The wheel holds the
package and nothing of the development distribution. Every module the code
imports comes from a declared dependency.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from build import ProjectBuilder
from build.env import DefaultIsolatedEnv

ROOT = Path(__file__).resolve().parents[2]
DEV_PACKAGE = ROOT / "dev-packages" / "hubplugins-dev"
# what the Dockerfile copies into its build stage
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "src"]
BUILD_TIMEOUT = 240


def _version() -> str:
    text = (ROOT / "src" / "hubplugins" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    assert found, "hubplugins/__init__.py writes __version__ as a plain string"
    return found.group(1)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("release")
    tree = work / "tree"
    tree.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
            shutil.copytree(source, tree / name, ignore=ignore)
        else:
            shutil.copy2(source, tree / name)
    out = work / "dist"
    with DefaultIsolatedEnv() as env:
        builder = ProjectBuilder.from_isolated_env(env, tree)
        env.install(builder.build_system_requires)
        env.install(builder.get_requires_for_build("sdist"))
        sdist = Path(builder.build("sdist", out))
        with tarfile.open(sdist) as archive:
            archive.extractall(work / "unpacked", filter="data")
        unpacked = ProjectBuilder.from_isolated_env(env, work / "unpacked" / sdist.name[:-7])
        env.install(unpacked.get_requires_for_build("wheel"))
        wheel = Path(unpacked.build("wheel", out))
    return {"work": work, "sdist": sdist, "wheel": wheel}


def test_twine_check_passes(dist):
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", dist["sdist"], dist["wheel"]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_version_source(dist):
    version = _version()
    assert dist["wheel"].name == f"hubplugins-{version}-py3-none-any.whl"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## {re.escape(version)}\b", changelog, re.M), "CHANGELOG names it"


def _wheel_files(dist) -> list[str]:
    with zipfile.ZipFile(dist["wheel"]) as archive:
        return archive.namelist()


def _sdist_files(dist) -> list[str]:
    with tarfile.open(dist["sdist"]) as archive:
        return [name.partition("/")[2] for name in archive.getnames()]


# (case, pattern): none of these may be in either archive
DEVELOPMENT_ONLY = [
    ("devcluster", r"(^|/)devcluster(/|$)"),
    ("demo", r"(^|/)demo\.py$"),
    ("stand-in hub", r"(^|/)standin\.py$"),
    ("development distribution", r"(^|/)(hubplugins_dev|dev-packages)(/|$)"),
    ("tests", r"(^|/)(tests|benchmarks)/"),
]


@pytest.mark.parametrize(
    ("case", "pattern"), DEVELOPMENT_ONLY, ids=[case for case, _ in DEVELOPMENT_ONLY]
)
def test_no_development_files_are_released(dist, case, pattern):
    found = [n for n in _wheel_files(dist) + _sdist_files(dist) if re.search(pattern, n)]
    assert not found, f"{case} in the release: {found}"


def test_wheel_holds_the_package_and_its_licence(dist):
    names = _wheel_files(dist)
    package = {n for n in names if n.startswith("hubplugins/")}
    expected = {
        "hubplugins/" + str(p.relative_to(ROOT / "src" / "hubplugins"))
        for p in (ROOT / "src" / "hubplugins").rglob("*.py")
    }
    assert expected <= package
    dist_info = f"hubplugins-{_version()}.dist-info"
    assert f"{dist_info}/licenses/LICENSE" in names
    with zipfile.ZipFile(dist["wheel"]) as archive:
        metadata = archive.read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: BSD-3-Clause" in metadata


# modules of the development distribution, old and new names
DEVELOPMENT_MODULES = [
    "hubplugins_dev",
    "hubplugins.devcluster",
    "hubplugins.demo",
    "hubplugins.lifecycle.standin",
]

# Run with the clean environment's interpreter in isolated mode (-I): no
# PYTHONPATH, no working directory on sys.path, so only the installed wheel
# can answer ``import hubplugins``.
CHECK_INSTALLED = textwrap.dedent(
    """
    import importlib, importlib.metadata, json
    import hubplugins
    DEVELOPMENT_MODULES = %r
    found = {"file": hubplugins.__file__, "version": hubplugins.__version__}
    found["metadata_version"] = importlib.metadata.version("hubplugins")
    found["missing"] = [n for n in hubplugins.__all__ if getattr(hubplugins, n, None) is None]
    points = importlib.metadata.distribution("hubplugins").entry_points
    found["entry_points"] = {}
    for point in points:
        loaded = point.load()
        exported = getattr(hubplugins, getattr(loaded, "__name__", ""), None)
        found["entry_points"][point.name] = exported is loaded or point.group == "console_scripts"
    found["development"] = []
    for name in DEVELOPMENT_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        found["development"].append(name)
    print(json.dumps(found))
    """
) % (DEVELOPMENT_MODULES,)


def test_wheel_installs_into_a_clean_environment_and_imports(dist):
    env_dir = dist["work"] / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    install += ["--no-deps", "--no-index", "--disable-pip-version-check", str(dist["wheel"])]
    subprocess.run(install, check=True, timeout=120)
    # the dependencies: this environment's, after the wheel's own directory
    (Path(purelib) / "_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    result = subprocess.run(
        [python, "-I", "-c", CHECK_INSTALLED], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert Path(found["file"]).is_relative_to(env_dir)
    assert found["version"] == found["metadata_version"] == _version()
    assert found["missing"] == []
    wrong = [name for name, exported in found["entry_points"].items() if not exported]
    assert not wrong, f"entry points whose class is not importable from hubplugins: {wrong}"
    assert {"policy", "directory", "multi", "hubplugins"} <= set(found["entry_points"])
    assert found["development"] == []
    # the console script runs hubplugins.cli:main (loaded above) with this interpreter
    script = (env_dir / "bin" / "hubplugins").read_text(encoding="utf-8")
    assert script.startswith(f"#!{python}\n") and "from hubplugins.cli import main" in script


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert found, requirement
    return _normalize(found.group(1))


def _declared(pyproject: Path) -> set[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    names = {_requirement_name(r) for r in project.get("dependencies", [])}
    if "hubplugins" in names:  # the development distribution gets the package's too
        names |= _declared(ROOT / "pyproject.toml")
    return names


def _imported_top_levels(package: Path) -> dict[str, list[str]]:
    """Top-level module name -> the files importing it (absolute imports only)."""
    found: dict[str, list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                found.setdefault(top, []).append(str(path.relative_to(package.parent)))
    return found


# (case, the import package's directory, its distribution's pyproject)
DISTRIBUTIONS = [
    ("hubplugins", ROOT / "src" / "hubplugins", ROOT / "pyproject.toml"),
    ("hubplugins-dev", DEV_PACKAGE / "src" / "hubplugins_dev", DEV_PACKAGE / "pyproject.toml"),
]


@pytest.mark.parametrize(
    ("case", "package", "pyproject"), DISTRIBUTIONS, ids=[c for c, _, _ in DISTRIBUTIONS]
)
def test_every_import_is_a_declared_dependency(case, package, pyproject):
    providers = importlib.metadata.packages_distributions()
    declared = _declared(pyproject)
    ours = {"hubplugins", package.name}
    undeclared = {}
    for top, files in _imported_top_levels(package).items():
        if top in sys.stdlib_module_names or top in ours or top == "__future__":
            continue
        dists = {_normalize(d) for d in providers.get(top, [])}
        assert dists, f"{top} (imported by {files}) is installed by no distribution here"
        if not dists & declared:
            undeclared[top] = (sorted(dists), files)
    assert not undeclared, f"{case} imports undeclared packages: {undeclared}"
