"""`svcctl build [NAME...]`, and its one line per image (`demo` prints the same lines)."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

import typer

from svcctl.cli.output import TABLE_WIDTH, OutputMode, human_size, print_json, progress
from svcctl.toolkit.images import build_images, catalog

if TYPE_CHECKING:
    from svcctl.docker.images import BuildResult, BuildStep

# Rewrites the terminal's current line: back to its start, then erase it.
CLEAR_LINE = "\r\x1b[K"


class BuildLines:
    """How a build is shown: one line per image when it is done (`zookeeper  svcctl/zookeeper:3.8
    cached  390.1 MB  0.4s`) on `out`; while an image builds, on a terminal only, a live line on
    stderr (`zookeeper  step 3/12  RUN …`) rewritten at each step. `verbose`: every Dockerfile
    step and every note as a progress line instead, as the builder gives them. `-q` keeps only
    the lines of the images done."""

    def __init__(self, out: TextIO, live: bool, verbose: bool = False) -> None:
        images = catalog().values()
        self.name_width = max(len(spec.name) for spec in images)
        self.tag_width = max(len(spec.tag) for spec in images)
        self.out, self.verbose = out, verbose
        self.live = live and not verbose and not OutputMode.quiet
        self.showing = False  # a live line is on the terminal

    @classmethod
    def for_run(cls, verbose: bool, to_stderr: bool = False) -> BuildLines:
        """The lines of this run: the images' lines on stdout, or stderr when stdout carries
        JSON; live lines when stderr is a terminal."""
        return cls(sys.stderr if to_stderr else sys.stdout, live=sys.stderr.isatty(), verbose=verbose)

    def note(self, message: str) -> None:
        """A line of the build that is neither a step nor an image done (the base image, a
        context's generated parts): a progress line with --verbose, else the live line's text."""
        if self.verbose:
            progress(message)
        else:
            self._show(message)

    def step(self, step: BuildStep) -> None:
        if self.verbose:
            progress(f"{step.image}: {step.line}")
        else:
            self._show(f"{step.image:<{self.name_width}}  step {step.number}/{step.total}  {step.instruction}")

    def built(self, result: BuildResult) -> None:
        self.finish()
        self.out.write(self.line(result) + "\n")
        self.out.flush()

    def line(self, result: BuildResult) -> str:
        """An image done, in columns that line up with the others' (pure)."""
        return (
            f"{result.name:<{self.name_width}}  {result.tag:<{self.tag_width}}  "
            f"{'cached' if result.cached else 'built ':<6}  {human_size(result.size_bytes):>8}  {result.seconds:>6.1f}s"
        )

    def _show(self, text: str) -> None:
        if self.live:
            sys.stderr.write(CLEAR_LINE + text[: TABLE_WIDTH - 1])
            sys.stderr.flush()
            self.showing = True

    def finish(self) -> None:
        """The live line erased (an image done, the build over or failed)."""
        if self.showing:
            sys.stderr.write(CLEAR_LINE)
            sys.stderr.flush()
            self.showing = False


def totals_line(results: list[BuildResult], seconds: float) -> str:
    """The build's last line: how many images, how many were cache hits, how long (pure)."""
    cached = sum(r.cached for r in results)
    images = f"{len(results)} image{'s' * (len(results) != 1)}"
    return f"{images}: {cached} cached, {len(results) - cached} built ({seconds:.1f}s)"


def build(
    ctx: typer.Context,
    names: list[str] = typer.Argument(
        None, help="Images to build (default: all): zookeeper, registrator, java_service_1, php_service_2."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Every Dockerfile step as a progress line."),
    json_out: bool = typer.Option(
        False, "--json", help="Machine-readable output (the images' lines go to stderr then)."
    ),
) -> None:
    """Build the toolkit's images from the project's Dockerfiles (cache hits when nothing changed)."""
    settings = ctx.obj
    lines = BuildLines.for_run(verbose, to_stderr=json_out)
    started = time.monotonic()
    try:
        results = build_images(
            settings,
            names or [],
            lines.note,
            on_step=lines.step,
            on_built=(lambda _: None) if json_out and OutputMode.quiet else lines.built,
        )
    finally:
        lines.finish()
    if json_out:
        print_json([r.to_dict() for r in results])
        return
    typer.echo(totals_line(results, time.monotonic() - started))


def register(app: typer.Typer) -> None:
    app.command("build")(build)
