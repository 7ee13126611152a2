"""`svcctl pki issue|ls`: client identities of a secured cluster's PKI (readers for consumers)."""

from __future__ import annotations

import typer

from .output import print_json, print_table

app = typer.Typer(help="The secured cluster's client identities: issue a consumer's reader certificate, list them.", no_args_is_help=True)

JSON_OPT = typer.Option(False, "--json", help="Machine-readable output.")


def _pki(ctx: typer.Context):
    from ..security import project_pki

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
    from ..pki import issue as issue_identity
    from ..pki import read_cert

    who = issue_identity(_pki(ctx), name, role=role, force=force)
    info = {"name": name, "role": role, "subject": read_cert(who.cert).subject, "ca": str(who.ca), "cert": str(who.cert), "key": str(who.key)}
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
    from ..pki import read_cert

    pki = _pki(ctx)
    rows = []
    for name, role, who in [("admin", "admin", pki.admin), ("registrator", "registrator", pki.registrator),
                            *((n, "reader", pki.reader(n)) for n in pki.readers())]:
        if who.cert.is_file():
            cert = read_cert(who.cert)
            rows.append({"name": name, "role": role, "subject": cert.subject, "not_after": cert.not_after.isoformat(), "cert": str(who.cert)})
    if json_out:
        print_json(rows)
    elif rows:
        print_table([(r["name"], r["role"], r["subject"], r["not_after"][:10]) for r in rows], ["name", "role", "subject", "expires"])
    else:
        typer.echo(f"no PKI under {pki.root} (`svcctl cluster up --secure` makes it)")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="pki")
