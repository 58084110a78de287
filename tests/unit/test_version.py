"""The version comes from git through the build's metadata (setuptools-scm), with a fallback without .git."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import mobilabel
from mobilabel.cli.main import cli
from tests.conftest import REPO


def scm_version(root: Path) -> str:
    """What setuptools-scm makes of ``root`` with the project's own configuration (pyproject.toml)."""
    found = subprocess.run([sys.executable, "-m", "setuptools_scm"], cwd=root, capture_output=True, text=True, check=True)
    return found.stdout.strip().splitlines()[-1]


def test_a_build_from_git_names_its_commit() -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert f"+g{commit}" in scm_version(REPO)


def test_a_build_without_git_gets_the_fallback(tmp_path: Path) -> None:
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    assert scm_version(tmp_path) == "0.1.0"


def test_version_option_shows_the_installed_version() -> None:
    shown = CliRunner().invoke(cli, ["--version"])
    assert shown.exit_code == 0 and mobilabel.__version__ in shown.output
