"""`svcctl demo`: the whole walkthrough as one verified command."""

from __future__ import annotations

import typer

from svcctl.cli.output import human_size, print_json, progress
from svcctl.cli.scenario import print_step, print_summary
from svcctl.progress import no_progress
from svcctl.walkthrough import scenarios
from svcctl.walkthrough.demo import run_demo


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
    json_out: bool = typer.Option(
        False, "--json", help="Machine-readable report on stdout (the CI smoke test's format)."
    ),
) -> None:
    """Doctor, build, cluster up, the four scenarios, and a summary; exit 0 only if everything held."""
    from svcctl.cli.scenario import print_fault, print_fault_summary

    report = run_demo(
        ctx.obj,
        keep=keep,
        timeout=timeout,
        on_progress=no_progress if json_out else progress,
        on_step=(lambda _: None) if json_out else print_step,
        secure=secure,
        with_faults=faults,
        on_fault=(lambda _: None) if json_out else print_fault,
    )
    if json_out:
        print_json(report.to_dict())
    else:
        typer.echo(
            "\nimages: "
            + ", ".join(f"{b.tag} {human_size(b.size_bytes)}{' (cached)' if b.cached else ''}" for b in report.builds)
        )
        typer.echo("")
        print_summary(report.steps)
        if report.faults:
            typer.echo("")
            print_fault_summary(report.faults)
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
        held = "all four scenarios" + (" and the fault scenarios" if faults else "") + " held"
        verdict = (held + (" on the TLS+ACL cluster" if secure else "")) if report.ok else f"FAILED in {report.phase}"
        typer.echo(f"\n{verdict} ({phases})")
        if report.ok and keep:
            typer.echo(
                "the services keep running: try `svcctl ps`, `svcctl zk tree /services`; `svcctl cluster down` ends it"
            )
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
