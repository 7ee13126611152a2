"""`svcctl completion bash|zsh|fish [--install]`: the shell's completion script, printed or
installed. The root has no typer `--install-completion`: building those options at every start
costs what `svcctl --help` must not pay."""

from __future__ import annotations

from enum import StrEnum

import typer

from svcctl.cli.main import COMPLETE_VAR

PROG_NAME = "svcctl"


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion_script(shell: str) -> str:
    """The script that makes `shell` complete svcctl's commands, options and arguments."""
    from typer.completion import get_completion_script

    return get_completion_script(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell)


def completion(
    shell: Shell = typer.Argument(..., help="The shell to complete in.", show_default=False),
    install: bool = typer.Option(
        False,
        "--install",
        help="Write the script where the shell reads it (bash: ~/.bash_completions/svcctl.sh, sourced from "
        "~/.bashrc; zsh: ~/.zfunc/_svcctl; fish: ~/.config/fish/completions/svcctl.fish).",
    ),
) -> None:
    """Print the shell's completion script (`source <(svcctl completion bash)`), or --install it."""
    if not install:
        typer.echo(completion_script(shell.value))
        return
    from typer.completion import install as install_script

    _, path = install_script(shell=shell.value, prog_name=PROG_NAME, complete_var=COMPLETE_VAR)
    typer.echo(f"{shell.value} completion installed in {path}; it takes effect in a new shell")


def register(app: typer.Typer) -> None:
    app.command("completion")(completion)
