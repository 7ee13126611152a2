"""Helpers for the registrator e2e tests (and bench/registration.py): the tiny image, its
containers (labelled, so cleanup never touches anything else), ZooKeeper reads."""

from __future__ import annotations

import json
import uuid
from functools import partial
from pathlib import Path
from typing import Callable

from tests.support import unique  # noqa: F401 (re-exported for the tests)
from tests.support import wait_for as _wait_for

TINY_TAG = "svcctl-test/tiny:1"
TINY_CONTEXT = Path(__file__).parent / "images" / "tiny"
LABEL = "svcctl.e2e.registrator"
BASE_IMAGE = "svcctl/base:bookworm"
# Registration latencies are tens of milliseconds: poll finer than the default.
wait_for = partial(_wait_for, interval=0.05)


def build_tiny(engine) -> str:
    """Build (a cache hit after the first time) the tiny image from the bootstrapped base."""
    base = BASE_IMAGE
    try:
        engine.images.get(base)
    except Exception:  # no bootstrapped base: the Dockerfile's default
        base = "debian:bookworm-slim"
    engine.images.build(path=str(TINY_CONTEXT), tag=TINY_TAG, buildargs={"BASE_IMAGE": base}, rm=True)
    return TINY_TAG


def run_tiny(engine, owner: str, env: dict[str, str] | None = None, ports: tuple[str, ...] = ("8080/tcp",), name: str | None = None,
             labels: dict[str, str] | None = None, command: list[str] | None = None):
    """A running tiny container publishing `ports` on 127.0.0.1 with random host ports."""
    return engine.containers.run(
        TINY_TAG,
        command=command,
        detach=True,
        name=name or f"{owner}-{uuid.uuid4().hex[:8]}",
        environment=env or {},
        labels={**(labels or {}), LABEL: owner},
        ports={p: ("127.0.0.1", None) for p in ports},
    )


def host_port(container, key: str = "8080/tcp") -> int:
    container.reload()
    return int(container.attrs["NetworkSettings"]["Ports"][key][0]["HostPort"])


def remove_all(engine, owner: str) -> None:
    for container in engine.containers.list(all=True, filters={"label": f"{LABEL}={owner}"}):
        try:
            container.remove(force=True)
        except Exception:  # already gone
            pass


def safe(fn: Callable[[], object]) -> Callable[[], object]:
    """A condition that counts a ZooKeeper error (connection moving) as `not yet`."""
    def wrapped():
        try:
            return fn()
        except Exception:
            return None
    return wrapped


def children(zk, path: str) -> list[str] | None:
    from kazoo.exceptions import NoNodeError

    try:
        return sorted(zk.get_children(path))
    except NoNodeError:
        return None


def node(zk, path: str) -> tuple[dict, object] | None:
    """(payload, stat) of a znode, or None."""
    from kazoo.exceptions import NoNodeError

    try:
        data, stat = zk.get(path)
    except NoNodeError:
        return None
    return json.loads(data), stat
