"""A volume created and a container started on an engine with python-on-whales
(`docker volume create`, `docker container run --detach`), a failure named by whales_error."""

from __future__ import annotations

from typing import Any

from svcctl.config.engines import EngineEndpoint
from svcctl.docker.whales import run_whales, whales_client


def create_volume(engine: EngineEndpoint, name: str, labels: dict[str, str], action: str, fix: str) -> None:
    """Volume `name` with `labels` on `engine`; a failure is SvcctlError naming `action`, with `fix`."""
    run_whales(action, fix, lambda: whales_client(engine).volume.create(name, labels=labels))


def run_detached(engine: EngineEndpoint, image: str, action: str, fix: str, **options: Any) -> None:
    """A container of the local `image` started in the background on `engine`; `options` are
    python-on-whales' `container.run` arguments (name, networks, volumes, ...). Never pulls:
    python-on-whales would look the image up first and print to stdout when it is missing."""
    run_whales(action, fix, lambda: whales_client(engine).container.run(image, detach=True, pull="never", **options))
