"""Helpers for the registrator e2e tests: the tiny image's containers (testbed.tiny), ZooKeeper reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

from testbed import tiny
from testbed.tiny import LABEL, TINY_TAG, build_tiny, remove_all  # noqa: F401 (for the tests)
from tests.support import TEST_PROJECT, unique  # noqa: F401 (re-exported for the tests)
from tests.support import wait_for as _wait_for

# Registration latencies are tens of milliseconds: poll finer than the default.
wait_for = partial(_wait_for, interval=0.05)


def run_tiny(engine, owner: str, *args, project: str = TEST_PROJECT, **kwargs):
    """testbed's tiny container as one of `project`'s (the test project's by default): in the
    scope of that named project's registrators."""
    return tiny.run_tiny(engine, owner, *args, project=project, **kwargs)


def host_port(container, key: str = "8080/tcp") -> int:
    container.reload()
    return int(container.attrs["NetworkSettings"]["Ports"][key][0]["HostPort"])


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
