"""`mobilabel completion SHELL`: the shell's completion script, from click's shell completion."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL: commands, options and choices complete on Tab.

    Load it from the shell's start-up file, e.g. for bash in ~/.bashrc:
    eval "$(mobilabel completion bash)"; for zsh in ~/.zshrc: eval "$(mobilabel completion zsh)";
    for fish: mobilabel completion fish > ~/.config/fish/completions/mobilabel.fish
    """
    root = click.get_current_context().find_root()
    name = root.info_name or "mobilabel"
    # The variable click's main() answers completion requests on: _MOBILABEL_COMPLETE for `mobilabel`.
    variable = f"_{name.replace('-', '_').replace('.', '_')}_COMPLETE".upper()
    script_class = get_completion_class(shell)
    assert script_class is not None  # click knows the three SHELLS
    click.echo(script_class(root.command, {}, name, variable).source())
