"""`svcctl demo`: the whole walkthrough as one verified command."""

from __future__ import annotations

import typer

from svcctl.cli.output import WIDE_OPT, OutputMode, print_json, progress, use_wide
from svcctl.cli.scenario import print_step, print_summary
from svcctl.walkthrough import scenarios
from svcctl.walkthrough.demo import DemoWatch, run_demo


def phase_header(name: str) -> None:
    """A phase of the demo begins: `== build ==`."""
    typer.echo(f"\n== {name} ==")


def cluster_line(nodes: list) -> str:
    """The ensemble as `cluster up` left it, on one line: `zoo1 follower, zoo2 leader, …`."""
    return "ensemble: " + ", ".join(f"{n.container} {n.stats.mode or n.state}" for n in nodes)


def demo(
    ctx: typer.Context,
    keep: bool = typer.Option(
        True,
        "--keep/--down",
        help="Leave the cluster and services running to explore (default), or take the project down at the end.",
    ),
    timeout: float = typer.Option(
        scenarios.DEFAULT_TIMEOUT, "--timeout", help="Seconds each scenario step may take to converge."
    ),
    secure: bool = typer.Option(
        False,
        "--secure",
        help="On the secured cluster: TLS, ACLs, registrators without the engine socket (`cluster up --secure`).",
    ),
    faults: bool = typer.Option(
        False, "--faults", help="After the four: the fault scenarios under consumer load (`svcctl scenario list`)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Every Dockerfile step of the build."),
    wide: bool = WIDE_OPT,
    json_out: bool = typer.Option(
        False, "--json", help="Machine-readable report on stdout (the CI smoke test's format; progress on stderr)."
    ),
) -> None:
    """Doctor, build, cluster up, the four scenarios, and a summary; exit 0 only if everything held."""
    from svcctl.cli.build import BuildLines
    from svcctl.cli.doctor import print_checks
    from svcctl.cli.scenario import print_fault, print_fault_summary

    use_wide(wide)
    lines = BuildLines.for_run(verbose, to_stderr=json_out)
    if json_out:
        # stdout carries the report alone: the images' lines are progress then (none with -q).
        watch = DemoWatch(on_build_note=lines.note, on_build_step=lines.step)
        if not OutputMode.quiet:
            watch.on_built = lines.built
    else:
        watch = DemoWatch(
            on_phase=phase_header,
            on_checks=print_checks,
            on_build_note=lines.note,
            on_build_step=lines.step,
            on_built=lines.built,
            on_cluster=lambda nodes: typer.echo(cluster_line(nodes)),
            on_step=print_step,
            on_fault=print_fault,
        )
    try:
        report = run_demo(
            ctx.obj,
            keep=keep,
            timeout=timeout,
            on_progress=progress,
            watch=watch,
            secure=secure,
            with_faults=faults,
        )
    finally:
        lines.finish()
    if json_out:
        print_json(report.to_dict())
    else:
        phase_header("summary")
        print_summary(report.steps)
        if report.faults:
            typer.echo("")
            print_fault_summary(report.faults)
        held = "all four scenarios" + (" and the fault scenarios" if faults else "") + " held"
        verdict = (held + (" on the TLS+ACL cluster" if secure else "")) if report.ok else f"FAILED in {report.phase}"
        typer.echo(f"\n{verdict}")
        typer.echo("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items()))
        if report.ok and keep:
            typer.echo("still running: try `svcctl ps`, `svcctl zk tree /services`; `svcctl cluster down` ends it")
    if report.error is not None:
        raise report.error
    error = scenarios.failures(report.steps)
    if error is not None:
        raise error
    if faults:
        from svcctl.walkthrough.faults import fault_failures

        error = fault_failures(report.faults)
        if error is not None:
            raise error


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
