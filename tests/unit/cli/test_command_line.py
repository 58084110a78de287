"""The command line's conveniences: shell completion scripts and "did you mean" for a mistyped command; a
command's imports leave the garbage collector on."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from mobilabel.cli.main import cli


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_shells_script(shell: str) -> None:
    printed = CliRunner().invoke(cli, ["completion", shell], prog_name="mobilabel")
    assert printed.exit_code == 0, printed.output
    assert "_MOBILABEL_COMPLETE" in printed.output and f"{shell}_source" not in printed.output


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("mobilabel mo", ["models"]),
        ("mobilabel co", ["correct", "completion"]),
        ("mobilabel models ac", ["activate"]),
        ("mobilabel enqueue photos --queue ", ["cpu", "gpu"]),
    ],
)
def test_the_script_is_answered_with_commands_and_choices(words: str, expected: list[str]) -> None:
    # What the bash script asks the command when Tab is pressed after `words`.
    env = {"_MOBILABEL_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}
    answered = CliRunner().invoke(cli, [], prog_name="mobilabel", env=env)
    assert answered.exit_code == 0, answered.output
    assert sorted(answered.output.split()) == sorted(f"plain,{word}" for word in expected)


@pytest.mark.parametrize(
    ("args", "typo", "suggested"),
    [
        (["modles"], "modles", "models"),
        (["lable", "photos"], "lable", "label"),
        (["models", "activte", "v1"], "activte", "activate"),
    ],
)
def test_a_mistyped_command_gets_a_suggestion(args: list[str], typo: str, suggested: str) -> None:
    # The top-level commands load on demand, so click alone would know of none to suggest.
    mistyped = CliRunner().invoke(cli, args, prog_name="mobilabel")
    assert mistyped.exit_code == 2
    assert mistyped.output.strip().splitlines()[-1] == f"Error: No such command {typo!r}. Did you mean {suggested!r}?"


def test_a_command_runs_with_the_collector_on_and_its_imports_frozen() -> None:
    # The collector is paused while a command's module imports (cli.main._import_command): left off, a
    # worker or server would never free a cycle. Frozen, the imported objects are no collection's work again.
    code = (
        "import gc, sys\nfrom mobilabel.cli.main import cli\ntry:\n    cli(['results', '--help'], prog_name='mobilabel')\n"
        "except SystemExit:\n    pass\nprint(gc.isenabled(), gc.get_freeze_count() > 10000, 'mobilabel.cli.queries' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split()[-3:] == ["True", "True", "True"]
