"""The tiny image (a shell that publishes ports, built from the base image) and its containers,
labelled with their owner so that cleanup never touches anything else."""

from __future__ import annotations

import uuid
from pathlib import Path

TINY_TAG = "svcctl-test/tiny:1"
TINY_CONTEXT = Path(__file__).parent / "images" / "tiny"
LABEL = "svcctl.e2e.registrator"
BASE_IMAGE = "svcctl/base:bookworm"


def build_tiny(engine) -> str:
    """Build (a cache hit after the first time) the tiny image from the bootstrapped base."""
    base = BASE_IMAGE
    try:
        engine.images.get(base)
    except Exception:  # no bootstrapped base: the Dockerfile's default
        base = "debian:bookworm-slim"
    engine.images.build(path=str(TINY_CONTEXT), tag=TINY_TAG, buildargs={"BASE_IMAGE": base}, rm=True)
    return TINY_TAG


def run_tiny(
    engine,
    owner: str,
    env: dict[str, str] | None = None,
    ports: tuple[str, ...] = ("8080/tcp",),
    name: str | None = None,
    labels: dict[str, str] | None = None,
    command: list[str] | None = None,
    host_ip: str = "127.0.0.1",
    project: str | None = None,
):
    """A running tiny container publishing `ports` on `host_ip` (the engine's address) with random host ports;
    `project`: labelled as that Compose project's, in the scope of a named svcctl project's registrators."""
    # A named project's, as its Compose services are (compose/services.yml): the default
    # project's registrators leave it out.
    scope = {"com.docker.compose.project": project, "io.svcctl.scoped": "true"} if project else {}
    return engine.containers.run(
        TINY_TAG,
        command=command,
        detach=True,
        name=name or f"{owner}-{uuid.uuid4().hex[:8]}",
        environment=env or {},
        labels={**scope, **(labels or {}), LABEL: owner},
        ports={p: (host_ip, None) for p in ports},
    )


def remove_all(engine, owner: str) -> None:
    for container in engine.containers.list(all=True, filters={"label": f"{LABEL}={owner}"}):
        try:
            container.remove(force=True)
        except Exception:  # already gone
            pass
