"""`svcctl scenario list|run`: the four classic scenarios and the fault scenarios."""

from __future__ import annotations

import typer

from svcctl.cli.output import WIDE_OPT, OutputMode, print_json, print_table, progress, use_wide
from svcctl.progress import no_progress
from svcctl.walkthrough import scenarios as core

app = typer.Typer(
    help="The classic walkthrough's four scenarios, and fault scenarios under consumer load, verified against "
    "ZooKeeper and Docker.",
    no_args_is_help=True,
)


def print_step(result: core.StepResult) -> None:
    """A step as people read it: verdict, the ZooKeeper tree, the HTTP answers (a failed step's
    diff comes with the error, on stderr)."""
    step = result.step
    verdict = "OK" if result.ok else "FAILED"
    timing = (
        f"converged {result.converge_seconds:.2f}s after the action"
        if result.converge_seconds is not None
        else "did not converge"
    )
    typer.echo(f"\n== step {step.number}: {step.title} — {verdict} (action {result.action_seconds:.1f}s, {timing})")
    typer.echo(f"expected: {step.expectation}")
    typer.echo(result.tree)
    for call in result.calls:
        answer = call.body if call.status is not None else call.error
        typer.echo(
            f"  GET {call.url} -> {call.status or '-'} {answer!r}{'' if call.ok else f'  (expected {call.expected!r})'}"
        )


def print_summary(results: list[core.StepResult]) -> None:
    """The one summary table (`scenario run`, `demo`): what ZooKeeper held one service a line;
    the expectation (`scenario list` has it) only with --wide."""
    print_table(
        [
            (
                row["step"],
                row["action"],
                row["expected"],
                result.seen_summary(separator="; " if OutputMode.wide else "\n"),
                f"{row['converge_seconds']:.2f}s" if row["converge_seconds"] is not None else "no",
                "OK" if row["ok"] else "FAILED",
            )
            for result, row in zip(results, core.summary_rows(results), strict=True)
        ],
        ["step", "action", "expected", "seen in ZooKeeper", "converged", "result"],
        narrow_drop=("expected",),
    )


@app.command("list")
def list_steps(json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The four steps and what each must produce in ZooKeeper; the fault scenarios and what consumers must feel."""
    from svcctl.walkthrough import faults

    if json_out:
        print_json({"steps": [s.to_dict() for s in core.STEPS], "faults": [f.to_dict() for f in faults.FAULTS]})
        return
    print_table([(s.number, s.title, s.expectation) for s in core.STEPS], ["step", "action", "expected in ZooKeeper"])
    typer.echo("")
    print_table(
        [
            (
                f.name,
                f.title + (" (a swarm)" if f.swarm_only else " (a cluster over hosts)" if f.hosts_only else ""),
                f.expectation,
            )
            for f in faults.FAULTS
        ],
        ["fault scenario", "fault (under load: gateway and a ServiceCache)", "expected"],
    )


def print_fault(result) -> None:
    """A fault scenario's report: what consumers felt, recovery, the trees."""
    verdict = "OK" if result.ok else "FAILED"
    typer.echo(f"\n== {result.fault.name}: {result.fault.title} — {verdict} ({result.seconds:.1f}s)")
    typer.echo(f"expected: {result.fault.expectation}")
    if result.victim:
        typer.echo(f"fault on: {result.victim}")
    typer.echo("tree before:")
    typer.echo(result.tree_before)
    g, c = result.gateway, result.cache_calls
    typer.echo(f"through the gateway: {g.sent} sent, {g.failed} failed")
    typer.echo(f"through a ServiceCache: {c.sent} sent, {c.failed} failed")
    for at, error in (g.failures + c.failures)[:5]:
        typer.echo(f"  failed at +{at:.3f}s: {error}")
    typer.echo(
        f"longest an instance that never stopped was missing from the cache: {result.max_missing_s * 1000:.0f} ms"
    )
    if result.unroutable_s is not None:
        what = "crash → the host's instances out of the cache" if result.fault.hosts_only else "kill → out of the cache"
        typer.echo(f"{what}: {result.unroutable_s * 1000:.0f} ms")
    if result.degraded_seen is not None:
        typer.echo(f"cluster status said degraded while the member was down: {'yes' if result.degraded_seen else 'no'}")
    after = (
        " (the crashed host's registrations gone: its registrators' sessions expired)"
        if result.fault.name == "host-crash"
        else ""
    )
    typer.echo(
        "ZooKeeper == Docker "
        + (f"{result.converge_s:.2f}s after the fault{after}" if result.converge_s is not None else "never")
    )
    typer.echo("HAProxy afterwards: " + (", ".join(f"{a} {s}" for a, s in result.haproxy_up.items()) or "-"))
    typer.echo("tree after:")
    typer.echo(result.tree_after)
    for problem in result.problems:
        typer.echo(f"  problem: {problem}")


def print_fault_summary(results) -> None:
    print_table(
        [
            (
                r.fault.name,
                r.gateway.sent,
                r.gateway.failed,
                r.cache_calls.failed,
                f"{r.max_missing_s * 1000:.0f} ms",
                f"{r.converge_s:.2f}s" if r.converge_s is not None else "no",
                "OK" if r.ok else "FAILED",
            )
            for r in results
        ],
        ["fault", "sent", "gateway failed", "cache failed", "max missing", "ZK == Docker", "result"],
    )


@app.command("run")
def run(
    ctx: typer.Context,
    which: str = typer.Argument(
        ...,
        metavar="1|2|3|4|all|FAULT|faults",
        help="One step, or all four in order from a clean state; a fault scenario (see `list`), several joined by "
        "commas, or `faults`: every one.",
    ),
    timeout: float = typer.Option(
        None,
        "--timeout",
        show_default=False,
        help="Seconds each step (each fault's recovery) may take to converge [default: 30 a step, 60 a fault].",
    ),
    context: str = typer.Option(
        None, "--context", help="Docker context of the engine to run them on (as the global --context)."
    ),
    wide: bool = WIDE_OPT,
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Run scenario steps (after each, ZooKeeper must match Docker exactly and every endpoint answer)
    or fault scenarios (exit 8 when an expectation fails)."""
    from svcctl.walkthrough import faults

    use_wide(wide)

    settings = ctx.obj.for_context(context) if context else ctx.obj
    if faults.is_fault(which) or "," in which and all(faults.is_fault(w) for w in which.split(",")):
        layout = settings.layout
        chosen = faults.parse_faults(
            which, over_hosts=layout is not None, on_swarm=layout is not None and layout.on_swarm
        )
        results = faults.run_faults(
            settings,
            chosen,
            timeout=faults.DEFAULT_FAULT_TIMEOUT if timeout is None else timeout,
            on_progress=no_progress if json_out else progress,
            on_result=(lambda _: None) if json_out else print_fault,
        )
        if json_out:
            print_json({"ok": all(r.ok for r in results), "faults": [r.to_dict() for r in results]})
        else:
            typer.echo("")
            print_fault_summary(results)
        error = faults.fault_failures(results)
        if error is not None:
            raise error
        return
    steps = core.parse_selection(which)
    results = core.run(
        settings,
        steps,
        timeout=core.DEFAULT_TIMEOUT if timeout is None else timeout,
        from_scratch=which.strip().lower() == "all",
        on_progress=no_progress if json_out else progress,
        on_step=(lambda _: None) if json_out else print_step,
    )
    if json_out:
        print_json(
            {"ok": all(r.ok for r in results) and len(results) == len(steps), "steps": [r.to_dict() for r in results]}
        )
    else:
        typer.echo("")
        print_summary(results)
    error = core.failures(results)
    if error is not None:
        raise error


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scenario")
