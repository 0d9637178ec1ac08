"""The project's own gates: README and CI agree, layering, lint, types, and the exported names."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import ROOT

BIN = Path(sys.executable).parent


def readme_commands() -> list[str]:
    """The command lines in the fenced blocks under README.md's first heading, continuations joined."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("# "))
    commands: list[str] = []
    fenced = False
    pending = ""
    for line in lines[first + 1 :]:
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            if line.startswith("#"):
                break
            continue
        text = line.strip()
        if text.startswith("$ "):
            text = text[2:]
        if not text or text.startswith("#"):
            continue
        if text.endswith("\\"):
            pending += text[:-1].rstrip() + " "
            continue
        commands.append(pending + text)
        pending = ""
    return commands


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the venv's tools from the repository root."""
    return subprocess.run([str(BIN / name), *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# --- README and CI ------------------------------------------------------------------------------------


def test_the_readme_opens_with_two_commands() -> None:
    commands = readme_commands()
    assert len(commands) >= 2, commands


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    test_command = readme_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert test_command in ci_lines


def test_the_readmes_first_command_starts_the_declared_console_script() -> None:
    start = readme_commands()[0]
    scripts = pyproject()["project"]["scripts"]
    program = re.findall(r"\.venv/bin/([\w-]+)", start)[-1]
    assert program in scripts, start
    assert scripts[program] == "mockserver.cli:main"


def test_the_readmes_test_command_installs_extras_that_exist() -> None:
    test_command = readme_commands()[1]
    extras = pyproject()["project"]["optional-dependencies"]
    for group in re.findall(r"\.\[([\w,-]+)\]", test_command):
        assert set(group.split(",")) <= set(extras), group
    assert test_command.rstrip().endswith("pytest")


# --- style gates --------------------------------------------------------------------------------------------


def test_the_import_layers_hold() -> None:
    result = run_tool("lint-imports")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_ruff_passes() -> None:
    result = run_tool("ruff", "check", ".")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_mypy_passes() -> None:
    result = run_tool("mypy")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


# --- exported names -----------------------------------------------------------------------------------------

EXPECTED_EXPORTS = {
    "mockserver.spec": {"Operation", "Parameter", "Resource", "SpecError", "SpecIndex", "load_spec"},
    "mockserver.store": {
        "Condition",
        "Ephemera",
        "Order",
        "Page",
        "Query",
        "Store",
        "StoreError",
        "Tenant",
        "open_store",
    },
    "mockserver.behaviours": {"Engine", "TokenIssuer", "install_domain"},
}


@pytest.mark.parametrize("module_name", sorted(EXPECTED_EXPORTS))
def test_exported_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    assert len(exported) == len(set(exported))
    for name in exported:
        assert hasattr(module, name), name
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and name != "annotations" and not isinstance(value, ModuleType)
    }
    assert public == {name for name in exported if not isinstance(getattr(module, name), ModuleType)}
    assert EXPECTED_EXPORTS[module_name] <= set(exported)


def test_no_test_or_readme_reads_outside_the_repository() -> None:
    """A fresh clone anywhere must pass: nothing may point at a sibling folder such as ../shared."""
    sources = [*ROOT.joinpath("tests").rglob("*.py"), ROOT / "README.md", *ROOT.joinpath(".ci").iterdir()]
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources
        if path.is_file()
        and any(marker in path.read_text(encoding="utf-8") for marker in ("ROOT.parent", "../shared"))
        and path.name != "test_project.py"
    ]
    assert offenders == []
