"""`svcctl scenario list|run`: the four classic scenarios (issue 4)."""

from __future__ import annotations

import typer

from .. import scenarios as core
from ..progress import no_progress
from .output import print_json, print_table, progress

app = typer.Typer(help="The classic walkthrough's four scenarios, verified against ZooKeeper and Docker.", no_args_is_help=True)


def print_step(result: core.StepResult) -> None:
    """A step as people read it: verdict, the ZooKeeper tree, the HTTP answers (a failed step's
    diff comes with the error, on stderr)."""
    step = result.step
    verdict = "OK" if result.ok else "FAILED"
    timing = f"converged {result.converge_seconds:.2f}s after the action" if result.converge_seconds is not None else "did not converge"
    typer.echo(f"\n== step {step.number}: {step.title} — {verdict} (action {result.action_seconds:.1f}s, {timing})")
    typer.echo(f"expected: {step.expectation}")
    typer.echo(result.tree)
    for call in result.calls:
        answer = call.body if call.status is not None else call.error
        typer.echo(f"  GET {call.url} -> {call.status or '-'} {answer!r}{'' if call.ok else f'  (expected {call.expected!r})'}")


def print_summary(results: list[core.StepResult]) -> None:
    """The one summary table (`scenario run`, `demo`)."""
    print_table(
        [
            (
                row["step"],
                row["action"],
                row["expected"],
                row["seen_in_zookeeper"],
                f"{row['converge_seconds']:.2f}s" if row["converge_seconds"] is not None else "no",
                "OK" if row["ok"] else "FAILED",
            )
            for row in core.summary_rows(results)
        ],
        ["step", "action", "expected", "seen in ZooKeeper", "converged", "result"],
    )


@app.command("list")
def list_steps(json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The four steps and what each must produce in ZooKeeper."""
    if json_out:
        print_json([s.to_dict() for s in core.STEPS])
        return
    print_table([(s.number, s.title, s.expectation) for s in core.STEPS], ["step", "action", "expected in ZooKeeper"])


@app.command("run")
def run(
    ctx: typer.Context,
    which: str = typer.Argument(..., metavar="1|2|3|4|all", help="One step, or all four in order from a clean state."),
    timeout: float = typer.Option(core.DEFAULT_TIMEOUT, "--timeout", help="Seconds each step may take to converge."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Run scenario steps; after each, ZooKeeper must match Docker exactly and every endpoint answer."""
    steps = core.parse_selection(which)
    results = core.run(
        ctx.obj,
        steps,
        timeout=timeout,
        from_scratch=which.strip().lower() == "all",
        on_progress=no_progress if json_out else progress,
        on_step=(lambda _: None) if json_out else print_step,
    )
    if json_out:
        print_json({"ok": all(r.ok for r in results) and len(results) == len(steps), "steps": [r.to_dict() for r in results]})
    else:
        typer.echo("")
        print_summary(results)
    error = core.failures(results)
    if error is not None:
        raise error


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scenario")
