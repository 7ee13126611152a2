"""`svcctl build [NAME...]`."""

from __future__ import annotations

import typer

from svcctl.cli.output import human_size, print_json, print_table, progress
from svcctl.progress import no_progress
from svcctl.toolkit.images import build_images


def build(
    ctx: typer.Context,
    names: list[str] = typer.Argument(
        None, help="Images to build (default: all): zookeeper, registrator, java_service_1, php_service_2."
    ),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Build the toolkit's images from the project's Dockerfiles (cache hits when nothing changed)."""
    settings = ctx.obj
    results = build_images(settings, names or [], no_progress if json_out else progress)
    if json_out:
        print_json([r.to_dict() for r in results])
        return
    print_table(
        [(r.name, r.tag, human_size(r.size_bytes), f"{r.seconds:.1f}s", "yes" if r.cached else "no") for r in results],
        ["image", "tag", "size", "build time", "cached"],
    )


def register(app: typer.Typer) -> None:
    app.command("build")(build)
