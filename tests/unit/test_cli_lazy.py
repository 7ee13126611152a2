"""The root group loads command modules lazily: every command is still there, and the line
`svcctl --help` shows for it (from main.COMMANDS, without importing it) is the command's own."""

from __future__ import annotations

import pytest

from svcctl.cli.main import COMMANDS, app, load_commands


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_command_is_registered_by_its_module_with_the_same_help(name):
    commands = load_commands(COMMANDS[name].module)
    assert name in commands, f"{COMMANDS[name].module}.register() adds no command {name!r}"
    command = commands[name]
    assert command.get_short_help_str(limit=1000) == COMMANDS[name].help


def test_root_lists_every_command_in_order_and_resolves_it():
    import typer

    group = typer.main.get_command(app)
    names = group.list_commands(None)
    assert names[: len(COMMANDS)] == list(COMMANDS)
    assert "version" in names
    for name in names:
        assert group.get_command(None, name) is not None, name
