"""Containers' logs as `docker compose logs` shows them: a Compose project's containers on one
or more engines, their lines read in parallel with the docker SDK (`-f`: followed), each line
tagged with its container's name. Which containers a command wants is its caller's business."""

from __future__ import annotations

import datetime
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from svcctl.docker.containers import project_service_number
from svcctl.docker.labels import COMPOSE_PROJECT, STACK_NAMESPACE
from svcctl.errors import BadInputError, SvcctlError

if TYPE_CHECKING:
    import docker

    from svcctl.config.engines import EngineEndpoint


@dataclass(frozen=True)
class ProjectContainer:
    """A container Compose started for a project, on one engine."""

    name: str
    id: str
    service: str  # its Compose service (zoo1, registrator2, service_2, …)
    engine: EngineEndpoint
    host: str | None = None  # the simulated host (Docker context) whose engine runs it


@dataclass(frozen=True)
class LogLine:
    source: str  # the container's label: its name (with its host where names repeat)
    timestamp: str  # the engine's RFC 3339 time of the line ("" when it gave none)
    text: str


# A Go duration as `docker logs --since` takes it: 10m, 1h30m, 45s, 1.5h, 250ms.
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|h|m|s))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_since(text: str, now: float | None = None) -> float:
    """`--since` as docker takes it, as seconds since the epoch (pure given `now`): a duration
    back from now (`10m`, `1h30m`), an RFC 3339 time (`2024-05-01T12:00:00Z`, with an offset or
    fractions), a date (`2024-05-01`, UTC), or a Unix timestamp (`1714560000.5`)."""
    value = text.strip()
    now = time.time() if now is None else now
    if _DURATION.match(value):
        return now - sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadInputError(
            f"--since {text!r} is neither a duration nor a time",
            "give a duration (10m, 1h30m), an RFC 3339 time (2024-05-01T12:00:00Z) or a Unix timestamp",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def split_timestamp(raw: str) -> tuple[str, str]:
    """A line the engine gave with `timestamps=True` as (its RFC 3339 time, its text) (pure)."""
    stamp, space, text = raw.partition(" ")
    if space and stamp[:4].isdigit() and "T" in stamp:
        return stamp, text
    return "", raw


def source_labels(containers: Sequence[ProjectContainer]) -> list[str]:
    """Each container's prefix: its name, and `name@host` where the same name runs on several
    engines (a sample service scaled on every simulated host) (pure)."""
    counts: dict[str, int] = {}
    for container in containers:
        counts[container.name] = counts.get(container.name, 0) + 1
    return [
        f"{c.name}@{c.host or c.engine.context or c.engine.host}" if counts[c.name] > 1 else c.name for c in containers
    ]


def project_containers(
    engines: Sequence[tuple[EngineEndpoint, str | None]], project: str
) -> tuple[list[ProjectContainer], list[str]]:
    """The project's containers (any state; Compose's, or its swarm stack's tasks) on each
    engine (with the host it is, None for the command's own engine), and the hosts whose engine
    did not answer."""
    from svcctl.docker.engine import client_for, docker_client

    found: list[ProjectContainer] = []
    down: list[str] = []
    for endpoint, host in engines:
        try:
            client = client_for(endpoint) if host else docker_client(endpoint)
        except SvcctlError:
            if host is None:
                raise
            down.append(host)
            continue
        # Compose's containers of the project, and a swarm stack's task containers of it.
        listed = {
            c.id: c
            for label in (COMPOSE_PROJECT, STACK_NAMESPACE)
            for c in client.containers.list(all=True, filters={"label": f"{label}={project}"})
        }
        found.extend(
            ProjectContainer(c.name, c.id, project_service_number(c.labels)[1] or "", endpoint, host)
            for c in sorted(listed.values(), key=lambda c: c.name)
        )
    return found, down


def read_logs(
    containers: Sequence[ProjectContainer],
    on_line: Callable[[LogLine], None],
    since: float | None = None,
    follow: bool = False,
) -> None:
    """Every line of the containers' logs (stdout and stderr) since `since`, to `on_line` from
    the calling thread: read all, in time order across containers; with `follow`, as they
    come until every container's log ends (it stops) or the caller is interrupted."""
    labels = source_labels(containers)
    lines: queue.Queue[LogLine | None] = queue.Queue()
    clients: dict[str, docker.DockerClient] = {}
    for container in containers:
        if container.engine.host not in clients:
            clients[container.engine.host] = _client(container)
    readers = [
        threading.Thread(
            target=_read_one,
            args=(clients[c.engine.host], c, label, since, follow, lines),
            name=f"logs-{label}",
            daemon=True,
        )
        for c, label in zip(containers, labels, strict=True)
    ]
    for reader in readers:
        reader.start()
    ended = 0
    gathered: list[LogLine] = []
    while ended < len(readers):
        try:
            line = lines.get(timeout=0.5)  # a timeout, so that Ctrl-C reaches this thread
        except queue.Empty:
            continue
        if line is None:
            ended += 1
        elif follow:
            on_line(line)
        else:
            gathered.append(line)
    for line in sorted(gathered, key=lambda line: line.timestamp):
        on_line(line)


def _client(container: ProjectContainer) -> docker.DockerClient:
    from svcctl.docker.engine import client_for, docker_client

    return client_for(container.engine) if container.host else docker_client(container.engine)


def _read_one(
    client: docker.DockerClient,
    container: ProjectContainer,
    label: str,
    since: float | None,
    follow: bool,
    out: queue.Queue[LogLine | None],
) -> None:
    import docker.errors

    pending = b""
    try:
        chunks = client.api.logs(
            container.id, stream=True, follow=follow, timestamps=True, since=since if since else None
        )
        for chunk in chunks:
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                out.put(LogLine(label, *split_timestamp(raw.decode(errors="replace").rstrip("\r"))))
        if pending:
            out.put(LogLine(label, *split_timestamp(pending.decode(errors="replace"))))
    except (docker.errors.DockerException, OSError) as exc:
        out.put(LogLine(label, "", f"(its log could not be read: {exc})"))
    finally:
        out.put(None)
