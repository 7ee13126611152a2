"""`svcctl pki issue|ls|rotate`: client identities of a secured cluster's PKI (readers for
consumers, one registrator identity per host of a cluster over hosts)."""

from __future__ import annotations

import typer

from svcctl.cli.output import print_json, print_table

app = typer.Typer(
    help="The secured cluster's client identities: issue a consumer's reader certificate, list them.",
    no_args_is_help=True,
)

JSON_OPT = typer.Option(False, "--json", help="Machine-readable output.")


def _pki(ctx: typer.Context):
    from svcctl.security.mode import project_pki

    return project_pki(ctx.obj)


@app.command("issue")
def issue(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Who it is for (becomes CN=svcctl-reader@NAME), e.g. billing-api."),
    role: str = typer.Option("reader", "--role", help="reader: reads the whole tree, writes nothing."),
    force: bool = typer.Option(False, "--force", help="Issue a new key to an existing identity."),
    json_out: bool = JSON_OPT,
) -> None:
    """Write a certificate and key (signed by the project's CA) for a consumer of the secured
    cluster: every session must present one."""
    from svcctl.security.pki import issue as issue_identity
    from svcctl.zk.tls import read_cert

    who = issue_identity(_pki(ctx), name, role=role, force=force)
    info = {
        "name": name,
        "role": role,
        "subject": read_cert(who.cert).subject,
        "ca": str(who.ca),
        "cert": str(who.cert),
        "key": str(who.key),
    }
    if json_out:
        print_json(info)
        return
    typer.echo(f"issued {info['subject']} ({role})")
    for what in ("ca", "cert", "key"):
        typer.echo(f"  {what:<5} {info[what]}")
    typer.echo(f"use: svcctl --zk-ca {who.ca} --zk-cert {who.cert} --zk-key {who.key} discover")


@app.command("ls")
def ls(ctx: typer.Context, json_out: bool = JSON_OPT) -> None:
    """The project's client identities: name, role, subject, expiry."""
    from svcctl.zk.tls import read_cert

    pki = _pki(ctx)
    rows = []
    for name, role, who in [
        ("admin", "admin", pki.admin),
        ("registrator", "registrator", pki.registrator),
        *((f"registrator@{h}", "registrator", pki.host_registrator(h)) for h in pki.hosts()),
        *((n, "reader", pki.reader(n)) for n in pki.readers()),
    ]:
        if who.cert.is_file():
            cert = read_cert(who.cert)
            rows.append(
                {
                    "name": name,
                    "role": role,
                    "subject": cert.subject,
                    "not_after": cert.not_after.isoformat(),
                    "cert": str(who.cert),
                }
            )
    if json_out:
        print_json(rows)
    elif rows:
        print_table(
            [(r["name"], r["role"], r["subject"], r["not_after"][:10]) for r in rows],
            ["name", "role", "subject", "expires"],
        )
    else:
        typer.echo(f"no PKI under {pki.root} (`svcctl cluster up --secure` makes it)")


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    host: str = typer.Option(
        ...,
        "--host",
        metavar="NAME",
        help="The host (its Docker context) of the secured cluster over hosts whose registrator "
        "identity gets a new key.",
    ),
    json_out: bool = JSON_OPT,
) -> None:
    """Re-issue one host's registrator identity (a new key, the same subject: the registry's
    ACLs stay), ship it to that host and recreate its registrators; the other hosts are not
    touched. (A secured cluster on one engine: `svcctl cluster up --secure --rotate`.)"""
    from svcctl.cli.output import progress
    from svcctl.ensemble.hosts import rotate_host

    subject = rotate_host(ctx.obj, host, on_progress=(lambda _: None) if json_out else progress)
    if json_out:
        print_json({"host": host, "subject": subject, "rotated": True})
    else:
        typer.echo(f"rotated {subject}: {host}'s registrators run on the new key")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="pki")
