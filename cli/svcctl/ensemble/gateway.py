"""`svcctl gateway up|down|status`: the gateway as a container of the project's Compose project
(compose/gateway.yml, host network), and its state read from HAProxy's own stats page."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from svcctl.config.settings import Settings, gateway_image
from svcctl.docker.compose import require_compose, run_compose
from svcctl.docker.labels import GATEWAY_PREFIX
from svcctl.ensemble.project import compose_client, container_prefix
from svcctl.errors import ConflictError, NotFoundError, SvcctlError, WaitTimeoutError
from svcctl.net import answers_ok, direct_opener
from svcctl.progress import Progress, no_progress
from svcctl.wait import poll_until

SERVICE = "gateway"


@dataclass
class GatewayInfo:
    container: str
    state: str
    host: str
    port: int
    stats_port: int
    services: list[dict] = field(default_factory=list)  # per service: servers, sessions, totals

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def stats_url(self) -> str:
        return f"http://127.0.0.1:{self.stats_port}/"

    def to_dict(self) -> dict:
        return {
            "container": self.container,
            "state": self.state,
            "url": self.url,
            "stats_url": self.stats_url,
            "services": self.services,
        }


def container_name(settings: Settings) -> str:
    return f"{container_prefix(settings.project)}{SERVICE}"


def _container(settings: Settings):
    from svcctl.docker.engine import docker_client
    from svcctl.docker.objects import or_none

    return or_none(docker_client(settings.engine).containers.get, container_name(settings))


def _info(container) -> GatewayInfo:
    labels = container.labels or {}
    return GatewayInfo(
        container.name,
        container.status,
        labels.get(GATEWAY_PREFIX + "host", "127.0.0.1"),
        int(labels.get(GATEWAY_PREFIX + "port", 0)),
        int(labels.get(GATEWAY_PREFIX + "stats-port", 0)),
    )


def running_info(settings: Settings) -> GatewayInfo | None:
    """The gateway's container's settings (ports) when it runs, without asking HAProxy."""
    container = _container(settings)
    return _info(container) if container is not None and container.status == "running" else None


def _probe_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """Does the gateway answer `GET /services` there?"""
    return answers_ok(f"http://{_probe_host(host)}:{port}/services", timeout)


def up(
    settings: Settings,
    host: str,
    port: int,
    stats_port: int,
    timeout: float = 60.0,
    on_progress: Progress = no_progress,
) -> GatewayInfo:
    """Start the gateway container (or leave it when it already runs with these settings) and
    wait until it answers."""
    from svcctl.docker.engine import docker_client
    from svcctl.docker.images import image_exists
    from svcctl.net import port_is_free

    require_compose()
    image = gateway_image()
    if not image_exists(docker_client(settings.engine), image):
        raise NotFoundError(f"image {image} is not built", "run `svcctl build gateway`")
    current = _container(settings)
    ours = _info(current) if current is not None and current.status == "running" else None
    for what, number in (("--port", port), ("--stats-port", stats_port)):
        if ours is not None and number in (ours.port, ours.stats_port):
            continue  # our own gateway holds it (and Compose recreates it if settings changed)
        probe = "127.0.0.1" if what == "--stats-port" else host
        if not port_is_free(probe, number):
            raise ConflictError(
                f"port {number} on {probe} is in use by another process",
                f"stop it (`ss -ltnp 'sport = :{number}'`) or pick another {what}",
            )
    compose = compose_client(
        settings,
        extra={
            "SVCCTL_GATEWAY_HOST": host,
            "SVCCTL_GATEWAY_PORT": str(port),
            "SVCCTL_GATEWAY_STATS_PORT": str(stats_port),
            "SVCCTL_GATEWAY_ZK": settings.zk,
        },
    )
    on_progress(f"starting the gateway ({image}) on {host}:{port}, stats on 127.0.0.1:{stats_port}")
    run_compose("gateway up", lambda: compose.compose.up(services=[SERVICE], detach=True, quiet=True, pull="never"))

    def not_answering(container) -> WaitTimeoutError:
        logs = container.logs(tail=15).decode(errors="replace") if container is not None else "(no container)"
        return WaitTimeoutError(
            f"the gateway does not answer on {host}:{port} after {timeout:.0f}s",
            f"read its log below (`docker logs {container_name(settings)}`)",
            details=logs,
        )

    def answering() -> bool:
        if answers(host, port):
            return True
        container = _container(settings)
        if container is not None and container.status in ("exited", "dead"):
            raise not_answering(container)  # it will not answer: no need to wait out the timeout
        return False

    if not poll_until(answering, bool, time.monotonic() + timeout, interval=0.2):
        raise not_answering(_container(settings))
    container = _container(settings)
    assert container is not None
    return _info(container)


def down(settings: Settings, on_progress: Progress = no_progress) -> bool:
    """Stop and remove the gateway's container (all it started). False when there was none."""
    if _container(settings) is None:
        return False
    compose = compose_client(settings)
    on_progress(f"stopping and removing {container_name(settings)}")
    run_compose("gateway down", lambda: compose.compose.rm(services=[SERVICE], stop=True))
    return True


def fetch_status(stats_port: int, timeout: float = 5.0) -> list[dict]:
    """The controller's per-service summary of HAProxy's stats (on the stats port)."""
    import json

    url = f"http://127.0.0.1:{stats_port}/svcctl/status"
    try:
        with direct_opener().open(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise SvcctlError(
            f"the gateway's status {url} does not answer ({exc})",
            "check the gateway's log (`docker logs`), or `svcctl gateway up`",
        ) from exc


def status(settings: Settings) -> GatewayInfo:
    container = _container(settings)
    if container is None:
        raise NotFoundError(
            f"the gateway is not running (no container {container_name(settings)})", "start it with `svcctl gateway up`"
        )
    info = _info(container)
    if container.status == "running":
        info.services = fetch_status(info.stats_port)
    return info
