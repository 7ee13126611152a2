"""Helpers for the zk/discovery e2e tests: real HTTP responder containers (perl from the base
image, resolved as `svcctl build` resolves it: nothing to build) on random loopback ports,
registered into the real ensemble under a test-owned kazoo session with the registrator's
payload format."""

from __future__ import annotations

import socket
import time
import uuid

from svcctl.registry.model import Registration
from svcctl.registry.payload import RegistrationPayload
from testbed.responder import RESPONDER, base_image  # noqa: F401 (for the tests)
from tests.support import TEST_PROJECT, unique, wait_for  # noqa: F401 (re-exported for the tests)

LABEL = "svcctl.e2e.zk"  # every responder carries it, so cleanup never touches anything else


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_responder(engine):
    """A running responder container and its host port."""
    container = engine.containers.run(
        base_image(engine),
        ["perl", "-e", RESPONDER],
        detach=True,
        name=f"{TEST_PROJECT}-zke2e-{uuid.uuid4().hex[:8]}",
        labels={LABEL: TEST_PROJECT},
        ports={"8000/tcp": ("127.0.0.1", None)},
    )
    container.reload()
    port = int(container.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"])
    wait_for(lambda: accepts(port), f"responder on port {port}")
    return container, port


def remove_containers(containers) -> None:
    for c in containers:
        try:
            c.remove(force=True)
        except Exception:  # already gone
            pass


def payload(service: str, port: int, container_id: str, name: str = "responder") -> bytes:
    """A registration as our registrators write it, stamped with no engine: none of them
    reconciles it (the test's own session owns it)."""
    reg = Registration(
        name=service,
        ip="127.0.0.1",
        port=port,
        private_port=8000,
        protocol="tcp",
        container_id=container_id,
        container_hostname=container_id[:12],
        container_name=name,
        compose_project=TEST_PROJECT,
        compose_service=service,
    )
    return RegistrationPayload.of(reg, None, "e2e-test", time.time()).encode()


def register(zk, service: str, port: int, container_id: str, ephemeral: bool = True, name: str = "responder") -> str:
    path = f"/services/{service}/127.0.0.1:{port}"
    zk.create(path, payload(service, port, container_id, name), ephemeral=ephemeral, makepath=True)
    return path
