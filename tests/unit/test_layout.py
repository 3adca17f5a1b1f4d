"""The folder says when code runs: deploy time (constructs), against an account (tools), development (local)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "cdk_app"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def _forbidden(path: Path, modules: tuple[str, ...]) -> set[str]:
    """The imports of ``path`` that are one of ``modules`` or inside one."""
    return {name for name in _imports(path) for m in modules if name == m or name.startswith(m + ".")}


@pytest.mark.parametrize("path", _modules("constructs"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_constructs_build_infrastructure_and_call_no_aws(path: Path) -> None:
    assert not _forbidden(path, ("boto3", "botocore", "cdk_app.tools", "cdk_app.local", "stacks"))


@pytest.mark.parametrize("path", _modules("tools"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_tools_use_boto3_only(path: Path) -> None:
    assert not _forbidden(path, ("aws_cdk", "constructs", "cdk_nag", "cdk_app.constructs", "cdk_app.local", "stacks"))
    assert not _forbidden(path, ("moto", "playwright"))


@pytest.mark.parametrize("path", _modules("local"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_local_stack_reads_cdk_out_not_the_stacks(path: Path) -> None:
    assert not _forbidden(path, ("aws_cdk", "constructs", "cdk_nag", "cdk_app.constructs", "stacks", "app"))


def test_pure_modules_import_neither_aws_cdk_nor_boto3() -> None:
    for name in ("settings.py", "envelope.py", "snippet.py"):
        assert not _forbidden(PACKAGE / name, ("aws_cdk", "constructs", "boto3", "botocore", "cdk_app"))


def test_operator_commands_start_without_aws_cdk_the_emulator_or_a_browser() -> None:
    """What the commands load at run time, imports of imports included."""
    modules = [p.stem for p in _modules("tools") if p.stem != "__init__"]
    code = (
        f"import sys\nfor m in {modules!r}: __import__('cdk_app.tools.' + m)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'aws_cdk', 'jsii', 'moto', 'playwright'})"
        " + sorted(m for m in sys.modules if m.startswith(('cdk_app.local', 'cdk_app.constructs'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# Packaging: a fresh clone's `make setup` installs every package and command, and README's paths run.

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS: dict[str, str] = PYPROJECT["project"]["scripts"]
README = (ROOT / "README.md").read_text()


def test_every_package_and_its_data_is_packaged() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert sorted(setuptools["packages"]) == sorted(found)
    data = {
        path
        for package, patterns in setuptools["package-data"].items()
        for pattern in patterns
        for path in ROOT.joinpath(*package.split(".")).glob(pattern)
    }
    package_dirs = {ROOT.joinpath(*name.split(".")) for name in found}
    files = {p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    modules = {p for p in files if p.suffix == ".py" and p.parent in package_dirs}
    assert files - modules <= data, sorted(str(p.relative_to(ROOT)) for p in files - modules - data)


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_installed_commands_start_and_are_documented(command: str) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name(command)), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {command}")
    assert f"| `{command}`" in README


@pytest.mark.parametrize("module", sorted(set(re.findall(r"(?<![\w/])cdk_app(?:\.\w+)+", README))))
def test_readme_module_paths_run(module: str) -> None:
    result = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
