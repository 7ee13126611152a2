"""Entry point: global options, the command groups, and the one error boundary.

Command modules are imported only when one of their commands runs (or its help is asked), so a
one-shot `svcctl zk ls` pays for typer and kazoo, not for docker, Compose or the scenarios.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperGroup

from svcctl import __version__
from svcctl.cli.output import env_help
from svcctl.config.settings import Settings, parse_zk_hosts
from svcctl.errors import BadInputError, SvcctlError

try:
    from typer import _click as click  # typer >= 0.20 vendors click
except ImportError:  # older typer depends on click itself
    import click  # type: ignore[no-redef]


class Lazy:
    """A command of the root group: its module under svcctl.cli (whose `register(root)` adds
    it) and the line `svcctl --help` shows for it without importing that module."""

    __slots__ = ("module", "help")

    def __init__(self, module: str, help: str) -> None:
        self.module, self.help = module, help


# Every command but `version`, in the order of `svcctl --help`. A new group is one line here
# and a module with `register(root)`; tests/unit/test_cli_lazy.py checks each line's help
# against the command's own.
COMMANDS: dict[str, Lazy] = {
    "doctor": Lazy(
        "doctor",
        "Check the engine, Compose v2, the API version, the base image, ZooKeeper and whether it is "
        "secured (in that order).",
    ),
    "build": Lazy(
        "build", "Build the toolkit's images from the project's Dockerfiles (cache hits when nothing changed)."
    ),
    "hosts": Lazy("hosts", "Simulated Docker hosts: engines in containers, one bridge network, a Docker context each."),
    "cluster": Lazy("cluster", "The 3-node ZooKeeper ensemble and its registrators."),
    "up": Lazy("services", "Start one instance of each service (instances already running are left alone)."),
    "scale": Lazy("services", "Run exactly N instances of a service, each on its own random loopback port."),
    "stop": Lazy(
        "services",
        "Stop and remove every instance of the services (their registrations go); unlike `docker compose stop`, "
        "nothing is kept: the next `up` starts a fresh container.",
    ),
    "ps": Lazy(
        "services", "Per container: service, state, health, host port, and whether ZooKeeper has its registration."
    ),
    "scenario": Lazy(
        "scenario",
        "The classic walkthrough's four scenarios, and fault scenarios under consumer load, verified against "
        "ZooKeeper and Docker.",
    ),
    "demo": Lazy(
        "demo", "Doctor, build, cluster up, the four scenarios, and a summary; exit 0 only if everything held."
    ),
    "zk": Lazy("zk", "Inspect and prune the ZooKeeper tree (ls, tree, get, stat, watch, rm, prune)."),
    "discover": Lazy("discover", "Services and their instances: address, container, age."),
    "call": Lazy("discover", "HTTP GETs through the live cache, round-robin; prints which instance answered."),
    "gateway": Lazy(
        "gateway",
        "The HTTP gateway: header service_name (+ api_name) → a live instance, through HAProxy fed from ZooKeeper.",
    ),
    "logs": Lazy(
        "logs", "The project's containers' logs by component, each line prefixed with its container (-f follows)."
    ),
    "registrator": Lazy("registrator", "The registrator: Docker containers → ZooKeeper registrations."),
    "ui": Lazy(
        "ui",
        "The ensemble, the registrators, the services and their instances, the registry beside Docker and the "
        "live event stream on one web page that updates itself; run a scenario, scale a service or stop an "
        "instance from it.",
    ),
    "metrics": Lazy(
        "metrics",
        "Prometheus metrics: a real Prometheus scraping the registrators, the gateway (HAProxy and its controller) "
        "and ZooKeeper.",
    ),
    "pki": Lazy("pki", "The secured cluster's client identities: issue a consumer's reader certificate, list them."),
    "completion": Lazy(
        "completion", "Print the shell's completion script (`source <(svcctl completion bash)`), or --install it."
    ),
}


# The variable a shell sets when it asks for completions (`svcctl completion`'s scripts).
COMPLETE_VAR = "_SVCCTL_COMPLETE"

# How typer is asked to build commands (the root's own settings).
_BUILD = {"pretty_exceptions_short": True, "rich_markup_mode": None}


def command_makers(module_name: str) -> dict[str, Callable[[], Any]]:
    """Name -> a function building that click command, for every command a command module
    registers. Building is typer's costly part (it reads each function's signature and type
    hints), so only the command that runs is built, and a group builds only its subcommand
    that runs."""
    import importlib
    from functools import partial

    module = importlib.import_module(f"{__package__}.{module_name}")
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    module.register(holder)
    makers: dict[str, Callable[[], Any]] = {}
    for info in holder.registered_commands:
        name = info.name or typer.main.get_command_name(info.callback.__name__)
        makers[name] = partial(typer.main.get_command_from_info, info, **_BUILD)
    for info in holder.registered_groups:
        makers[info.name] = partial(lazy_group, info)
    return makers


def load_commands(module_name: str) -> dict[str, Any]:
    """Every click command a command module registers, built."""
    return {name: make() for name, make in command_makers(module_name).items()}


def lazy_group(info: Any) -> LazyGroup:
    """A typer sub-app (`root.add_typer(app, name=…)`) as a group that builds its subcommands
    on first use: typer builds the group itself from a copy without commands."""
    import copy
    from functools import partial

    sub = info.typer_instance
    shell = copy.copy(sub)
    shell.registered_commands, shell.registered_groups = [], []
    shell_info = copy.copy(info)
    shell_info.typer_instance = shell
    group = typer.main.get_group_from_info(shell_info, suggest_commands=True, **_BUILD)
    group.__class__ = LazyGroup
    group.makers = {
        command.name or typer.main.get_command_name(command.callback.__name__): partial(
            typer.main.get_command_from_info, command, **_BUILD
        )
        for command in sub.registered_commands
    }
    group.makers.update({nested.name: partial(lazy_group, nested) for nested in sub.registered_groups})
    return group


class UnknownCommandError(click.exceptions.UsageError):
    """A command name no group has: the message names the closest one when there is one."""

    def __init__(self, name: str, known: list[str], ctx: Any) -> None:
        self.suggestion = suggest_command(name, known)
        hint = f"; did you mean '{self.suggestion}'?" if self.suggestion else ""
        super().__init__(f"no such command '{name}'{hint}", ctx)


def suggest_command(name: str, known: list[str]) -> str | None:
    """The known command closest to a mistyped one (difflib's ratio ≥ 0.6), or None."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return close[0] if close else None


class LazyGroup(TyperGroup):
    """A group whose commands are built on first use from `makers` (name -> builder); the root's
    makers come from COMMANDS, whose modules are imported on first use too."""

    makers: dict[str, Callable[[], Any]] = {}
    help_lines: dict[str, str] = {}  # the root: lines for `--help` without importing anything

    def list_commands(self, ctx: Any) -> list[str]:
        return list(dict.fromkeys([*self.help_lines, *self.makers, *self.commands]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            if cmd_name not in self.makers and cmd_name in COMMANDS:
                self.makers = {**command_makers(COMMANDS[cmd_name].module), **self.makers}
            if cmd_name in self.makers:
                self.commands[cmd_name] = self.makers[cmd_name]()
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            raise UnknownCommandError(name, self.list_commands(ctx), ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.help_lines and name not in self.commands:
                rows.append((name, self.help_lines[name]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class RootGroup(LazyGroup):
    help_lines = {name: lazy.help for name, lazy in COMMANDS.items()}


app = typer.Typer(
    name="svcctl",
    cls=RootGroup,
    help="Automatic service registration: Docker containers → registrator → 3-node ZooKeeper ensemble.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # Every group and command below inherits it: `svcctl cluster up -h` too.
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    zk: str = typer.Option(
        None,
        "--zk",
        help=env_help(
            "ZooKeeper connection string HOST:PORT[,HOST:PORT...] [default: the members recorded by `cluster up "
            "--hosts`, else the project's three on 127.0.0.1: the ports of SVCCTL_ZK_PORTS, else 2181-2183 for the "
            "default project and for another three in 16200-19997 derived from its name]",
            "SVCCTL_ZK",
        ),
    ),
    project: str = typer.Option(
        None,
        "--project",
        help=env_help(
            "Compose project: another name runs a second stack on the same engine. Its own: containers (named "
            "NAME-…), volumes and network, ZooKeeper ports (SVCCTL_ZK_PORTS, else three in 16200-19997 derived from "
            "NAME), registrations (its registrators register only its own containers; the default project's, every "
            "container of the engine but another project's) and its files in the state directory. Shared: the "
            "engine, the images (by tag: "
            "one build serves every project), the gateway's default ports (8080, 8404) and, in a checkout, the PKI "
            "of .svcctl/ [default: svcctl]",
            "SVCCTL_PROJECT",
        ),
    ),
    project_dir: str = typer.Option(
        None,
        "--project-dir",
        help=env_help(
            "Directory holding compose/, images/ and services/ [default: the checkout around the current directory, "
            "else the copy installed with svcctl]",
            "SVCCTL_PROJECT_DIR",
        ),
    ),
    context: str = typer.Option(
        None,
        "--context",
        help="Docker context of the engine that build, up, scale, stop, ps, scenario and prune use [default: "
        "DOCKER_HOST, else DOCKER_CONTEXT, else docker's current context]",
    ),
    zk_ca: str = typer.Option(
        None,
        "--zk-ca",
        help=env_help(
            "CA certificate (PEM) of a secured ensemble: TLS to ZooKeeper [default: the project's .svcctl/pki/ when "
            "its cluster is secured]",
            "SVCCTL_ZK_CA",
        ),
    ),
    zk_cert: str = typer.Option(
        None,
        "--zk-cert",
        help=env_help("Client certificate (PEM) for a secured ensemble: the identity its ACLs know.", "SVCCTL_ZK_CERT"),
    ),
    zk_key: str = typer.Option(None, "--zk-key", help=env_help("Private key (PEM) of --zk-cert.", "SVCCTL_ZK_KEY")),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress lines (for scripts): results and errors only."
    ),
    _version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print svcctl's version and exit."
    ),
) -> None:
    import os
    from dataclasses import replace

    from svcctl.cli.output import OutputMode, quiet_kazoo_logging
    from svcctl.config.layout import recorded_layout

    OutputMode.quiet = quiet
    quiet_kazoo_logging()
    environ = dict(os.environ)  # a snapshot: Settings reads its variables from it, once
    overrides = {
        key: value
        for key, value in (
            ("zk", zk),
            ("project", project),
            ("project_dir", project_dir),
            ("context", context),
            ("zk_ca", zk_ca),
            ("zk_cert", zk_cert),
            ("zk_key", zk_key),
        )
        if value
    }
    # A bad project name, then an unknown Docker context (the engine is resolved here), fail
    # before any command runs.
    settings = Settings.from_environ(environ, **overrides)
    # A cluster recorded by `cluster up --hosts` gives the members when --zk/SVCCTL_ZK does not.
    layout = recorded_layout(settings)
    if layout is not None:
        settings = replace(
            settings, layout=layout, zk=settings.zk if zk or environ.get("SVCCTL_ZK") else layout.connect_string()
        )
    parse_zk_hosts(settings.zk)  # a bad --zk fails here, before any command runs
    ctx.obj = settings


@app.command()
def version(json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Print svcctl's version."""
    if json_out:
        import json

        typer.echo(json.dumps({"version": __version__}))
        return
    typer.echo(__version__)


def main() -> None:
    """Run the CLI; every failure ends here as one line on stderr and an exit code from the table
    in errors.py. Click runs in non-standalone mode so usage errors get the same one line."""
    from svcctl.cli.output import error_line
    from svcctl.config.settings import debug_enabled
    from svcctl.errors import from_foreign

    click_errors = click.exceptions
    _answer_completion()
    try:
        code = app(standalone_mode=False, prog_name="svcctl")
    except SvcctlError as exc:
        _fail(exc)
    except click_errors.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "svcctl"
        if isinstance(exc, getattr(click_errors, "NoArgsIsHelpError", ())):  # a bare group: its help, as Click would
            sys.stderr.write(exc.format_message().rstrip() + "\n")
        elif isinstance(exc, UnknownCommandError) and exc.suggestion:
            error_line(exc.format_message())  # the suggestion is the fix
        else:
            message = exc.format_message().rstrip().rstrip(".")
            error_line(f"{message[:1].lower()}{message[1:]}; fix: see `{command} --help`")
        sys.exit(BadInputError.exit_code)
    except (typer.Abort, KeyboardInterrupt):  # typer's own Abort: click's where typer uses click, its vendored one else
        error_line("interrupted")
        sys.exit(130)
    except click_errors.ClickException as exc:
        error_line(exc.format_message())
        sys.exit(exc.exit_code)
    except Exception as exc:
        if debug_enabled():
            raise
        _fail(from_foreign(exc))
    sys.exit(code if isinstance(code, int) else 0)


def _answer_completion() -> None:
    """The shell asks for completions (`svcctl completion`'s script sets the variable): typer's
    completion classes are registered first, only then (they cost every other start)."""
    import os

    if os.environ.get(COMPLETE_VAR):
        from typer._completion_classes import completion_init

        completion_init()


def _fail(exc: SvcctlError) -> None:
    from svcctl.cli.output import error_line

    error_line(exc.one_line())
    if exc.details:
        sys.stderr.write(exc.details.rstrip() + "\n")
    sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
