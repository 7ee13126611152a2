"""`svcctl zk ls|tree|get|stat|watch|rm|prune`: ZooKeeper inspection and pruning.

One-shot commands: only kazoo is imported (docker only inside `zk prune`, which needs the engine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from svcctl.cli.output import moment_text, print_json, print_table, stamp_text
from svcctl.config.settings import DEFAULT_BASE
from svcctl.security.mode import ADMIN, client_tls

if TYPE_CHECKING:
    from svcctl.zk.znode import ZnodeSnapshot

app = typer.Typer(
    help="Inspect and prune the ZooKeeper tree (ls, tree, get, stat, watch, rm, prune).", no_args_is_help=True
)

JSON_OPT = typer.Option(False, "--json", help="Machine-readable output.")


def _session(ctx: typer.Context, write: bool = False):
    from svcctl.zk.client import zk_session

    return zk_session(ctx.obj.zk_hosts, tls=client_tls(ctx.obj, identity=ADMIN) if write else client_tls(ctx.obj))


@app.command("ls")
def ls(
    ctx: typer.Context,
    path: str = typer.Argument("/", help="Znode path."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="List every descendant (full paths)."),
    json_out: bool = JSON_OPT,
) -> None:
    """List a node's children (or, with -r, every path below it)."""
    from svcctl.zk import ops

    with _session(ctx) as client:
        if recursive:
            path = ops.normalize_path(path)
            names = ops.descendants(path, ops.walk(client, path))
        else:
            names = ops.list_children(client, path)
    if json_out:
        print_json(names)
    elif names:
        typer.echo("\n".join(names))


@app.command("tree")
def tree(
    ctx: typer.Context,
    path: str = typer.Argument(DEFAULT_BASE, help="Znode path."),
    data: bool = typer.Option(
        False, "--data", help="Show each node's data summary (registrations always show theirs)."
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """Draw the tree below PATH; registration nodes show a payload summary."""
    from svcctl.registry.payload import RegistrationPayload
    from svcctl.zk import ops
    from svcctl.zk.tree import node_labels, render_tree

    path = ops.normalize_path(path)
    with _session(ctx) as client:
        nodes = ops.snapshots(client, path)
    if json_out:
        print_json({p: {"children": sorted(nodes[p].children or ()), **nodes[p].to_dict()} for p in sorted(nodes)})
    else:
        labels = node_labels(nodes, data, summarize=RegistrationPayload.summary_of)
        typer.echo(render_tree(path, ops.children_of(nodes), labels))


def _print_stat(stat: ZnodeSnapshot) -> None:
    rows = [
        ("version", stat.version),
        ("cversion", stat.cversion),
        ("ephemeral owner", hex(stat.ephemeral_owner) if stat.ephemeral_owner else "0x0 (persistent)"),
        ("created", moment_text(stat.ctime)),
        ("modified", moment_text(stat.mtime)),
        ("czxid", hex(stat.czxid)),
        ("mzxid", hex(stat.mzxid)),
        ("data length", stat.data_length),
        ("children", stat.num_children),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        typer.echo(f"{key:<{width}}  {value}")


@app.command("get")
def get(ctx: typer.Context, path: str = typer.Argument(..., help="Znode path."), json_out: bool = JSON_OPT) -> None:
    """A node's data (pretty-printed when JSON) and its stat."""
    import json

    from svcctl.zk import ops

    with _session(ctx) as client:
        node = ops.get_node(client, path)
    if json_out:
        print_json(node.to_dict())
        return
    text, parsed = node.json()
    if parsed is not None:
        typer.echo(json.dumps(parsed, indent=2, sort_keys=False))
    elif text:
        typer.echo(text)
    else:
        typer.echo("(no data)")
    typer.echo("")
    _print_stat(node)


@app.command("stat")
def stat(ctx: typer.Context, path: str = typer.Argument(..., help="Znode path."), json_out: bool = JSON_OPT) -> None:
    """A node's stat: versions, ephemeral owner, times, zxids, children."""
    from svcctl.zk import ops

    with _session(ctx) as client:
        node = ops.stat_node(client, path)
    if json_out:
        print_json(node.stat_dict())
    else:
        _print_stat(node)


@app.command("watch")
def watch(
    ctx: typer.Context,
    path: str = typer.Argument(DEFAULT_BASE, help="Znode path (it may not exist yet)."),
    recursive: bool = typer.Option(
        False, "--recursive", "-r", help="Watch every descendant, not just PATH and its child list."
    ),
    count: int = typer.Option(0, "--count", "-n", min=0, help="Stop after N events (0 = no limit)."),
    timeout: float = typer.Option(0, "--timeout", min=0, help="Stop after S seconds (0 = no limit)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Stream changes: child added/removed, data changed, node deleted, session loss."""
    import json
    import queue
    import time

    from svcctl.registry.payload import RegistrationPayload
    from svcctl.zk import ops
    from svcctl.zk.client import started_client
    from svcctl.zk.watch import TreeWatcher, describe

    path = ops.normalize_path(path)
    hosts = ctx.obj.zk_hosts
    client = started_client(hosts, connect_timeout=5.0, tls=client_tls(ctx.obj))
    events: queue.Queue = queue.Queue()
    watcher = TreeWatcher(client, path, events.put, depth=None if recursive else 0)
    seen = 0
    deadline = time.monotonic() + timeout if timeout > 0 else None
    try:
        watcher.start()
        typer.echo(f"watching {path}{' (recursive)' if recursive else ''}", err=True)
        while count <= 0 or seen < count:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                break
            try:
                event = events.get(timeout=wait if wait is not None else 1.0)
            except queue.Empty:
                continue
            seen += 1
            if json_out:
                typer.echo(json.dumps(event.to_dict()))
            else:
                typer.echo(f"{stamp_text(event.ts)}  {describe(event, RegistrationPayload.summary_of)}")
    finally:
        watcher.stop()
        client.stop()
        client.close()


@app.command("rm")
def rm(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="Znode path."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Remove the node and everything below it."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove a node (refuses / and /zookeeper); lists what it removes and asks first."""
    from svcctl.errors import BadInputError
    from svcctl.zk import ops

    with _session(ctx, write=True) as client:
        plan = ops.plan_remove(client, path, recursive)
        typer.echo(f"will remove {len(plan)} node(s):")
        for p in plan:
            typer.echo(f"  {p}")
        if not yes:
            try:
                confirmed = typer.confirm("remove them?", default=False)
            except typer.Abort as exc:
                if not isinstance(exc.__context__, EOFError):
                    raise  # Ctrl-C: the boundary reports an interruption
                # stdin closed (a script without --yes): not a yes
                raise BadInputError(
                    "nothing removed: no answer to the confirmation (stdin closed)", "answer y, or pass --yes"
                ) from None
            if not confirmed:
                typer.echo("nothing removed")
                raise typer.Exit(1)
        deleted = ops.remove(client, plan)
    typer.echo(f"removed {len(deleted)} node(s)")


@app.command("prune")
def prune(
    ctx: typer.Context,
    path: str = typer.Argument(DEFAULT_BASE, help="Registry base or one service node (not /, /zookeeper or /svcctl)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete (without it: a dry run)."),
    probe: bool = typer.Option(False, "--probe", help="Also count endpoints refusing TCP connections as stale."),
    json_out: bool = JSON_OPT,
) -> None:
    """Find stale registrations (dry run unless --yes): container gone from this engine, no owner
    session (persistent registration), endpoint refusing (--probe), empty service nodes. Only
    registrator-made nodes are judged; anything else is left alone."""
    from svcctl.errors import DockerUnavailableError
    from svcctl.registry import prune as core
    from svcctl.zk.ops import snapshots

    path = core.check_prunable(path)  # refuses /, /zookeeper… and /svcctl before anything runs
    try:
        from svcctl.docker.engine import running_container_ids

        ids, engine = running_container_ids(ctx.obj.engine)  # imports docker: only this zk command does
        containers = [core.ContainerInfo(container_id, None) for container_id in ids]
    except DockerUnavailableError as exc:
        containers, engine = None, None
        typer.echo(
            f"svcctl: warning: {exc.cause}: skipping the container rule (judging owner "
            f"sessions{', probes' if probe else ''} and empty service nodes only)",
            err=True,
        )
    with _session(ctx, write=yes) as client:
        nodes = snapshots(client, path)
        refused = core.probe_refused(core.instance_endpoints(path, nodes)) if probe else None
        decisions = core.decide(path, nodes, containers, engine_id=engine, refused=refused)
        if yes:
            core.apply(client, path, decisions)
    if json_out:
        print_json(
            {
                "path": path,
                "dry_run": not yes,
                "container_rule": containers is not None,
                "nodes": [d.to_dict() for d in decisions],
            }
        )
        return
    if not decisions:
        typer.echo(f"nothing stale under {path}")
        return
    print_decisions(decisions, yes)
    if not yes:
        typer.echo(f"dry run: {len(decisions)} node(s) would be removed; pass --yes to remove them")


def print_decisions(decisions: list, done: bool) -> None:
    """`zk prune`'s table: each node judged stale, why, and (done: after --yes) what came of it."""
    headers = ["path", "kind", "reason", "detail"] + (["outcome"] if done else [])
    print_table([(d.path, d.kind, d.reason, d.detail, *([d.outcome] if done else [])) for d in decisions], headers)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="zk")
