"""The sample services as Swarm services, on a cluster that runs as a stack (`cluster up --swarm`):
`up`/`scale`/`stop` create, scale and remove the replicated service `<project>_<name>` in the
project's stack namespace (so `cluster down` removes them with the stack); its tasks publish in
host mode on their node, at a port the node picks, and the node's registrator advertises the
node's address. Swarm places the tasks, restarts them, moves them off a node that is lost."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from svcctl.config.settings import Settings
from svcctl.docker.containers import ContainerView
from svcctl.docker.labels import SCOPED
from svcctl.docker.swarm import ReplicatedService
from svcctl.ensemble.project import scoped_label
from svcctl.ensemble.swarm import SWARM_FIX, swarm_manager
from svcctl.errors import SvcctlError
from svcctl.progress import Progress, no_progress
from svcctl.wait import poll_until
from svcctl.walkthrough.samples import SampleService, validate_services

if TYPE_CHECKING:
    from svcctl.config.engines import EngineEndpoint

STOP_TIMEOUT = 60.0


def service_spec(project: str, service: SampleService) -> ReplicatedService:
    """The swarm service of a sample service (pure): its image, its port in host mode, the
    SERVICE_* keys that name its registration."""
    return ReplicatedService(
        name=f"{project}_{service.name}",
        image=service.tag,
        namespace=project,
        target_ports=(service.container_port,),
        env=service.registration_env,
        container_labels=((SCOPED, scoped_label(project)),),
        stop_grace_seconds=5,
    )


def _services(settings: Settings, manager: EngineEndpoint | None = None) -> dict:
    """The project's swarm services, asked of `manager` (default: the first manager that answers)."""
    from svcctl.docker.engine import client_for
    from svcctl.docker.swarm import namespace_services

    assert settings.layout is not None
    return namespace_services(client_for(manager or swarm_manager(settings.layout).endpoint), settings.project)


def replicas(settings: Settings) -> dict[str, int]:
    """Sample service -> the replicas its swarm service asks for (absent: not there)."""
    from svcctl.docker.swarm import service_replicas

    return {name.removeprefix(f"{settings.project}_"): service_replicas(s) for name, s in _services(settings).items()}


def scale(settings: Settings, service: SampleService, count: int, on_progress: Progress = no_progress) -> None:
    """`count` tasks of the service (0: the service removed); created at the first call."""
    from svcctl.docker.engine import client_for
    from svcctl.docker.swarm import create_service, scale_service

    assert settings.layout is not None
    spec = service_spec(settings.project, service)
    if count == 0:
        stop(settings, [service.name], on_progress)
        return
    manager = swarm_manager(settings.layout).endpoint  # found once: each look asks every host's engine
    existing = _services(settings, manager).get(spec.name)
    if existing is None:
        on_progress(f"service create {spec.name} ({count} task{'s' if count != 1 else ''}, ports in host mode)")
        create_service(client_for(manager), spec, count)
    else:
        on_progress(f"service scale {spec.name}={count}")
        scale_service(manager, spec.name, count)


def up(settings: Settings, services: list[SampleService], on_progress: Progress = no_progress) -> dict[str, int]:
    """At least one task of each service; services already up keep their count."""
    asked = replicas(settings)
    scales = {s.name: max(1, asked.get(s.name, 0)) for s in services}
    for service in services:
        if asked.get(service.name, 0) == 0:
            scale(settings, service, 1, on_progress)
        else:
            on_progress(f"already up: {service.name} ({asked[service.name]} tasks)")
    return scales


def stop(settings: Settings, names: list[str], on_progress: Progress = no_progress) -> None:
    """The services removed, and their task containers waited for: like Compose's stop and rm,
    nothing of them runs when this returns."""
    from svcctl.docker.swarm import remove_service

    services = {s.name for s in validate_services(names)}
    found = _services(settings)
    for name in sorted(services):
        service = found.get(f"{settings.project}_{name}")
        if service is not None:
            on_progress(f"service rm {service.name}")
            remove_service(service)

    def still_running() -> list[str]:
        return [v.name for v in cluster_views(settings) if v.compose_service in services and v.state == "running"]

    left = poll_until(still_running, lambda found: not found, time.monotonic() + STOP_TIMEOUT, interval=0.5)
    if left:
        raise SvcctlError(f"tasks still running {STOP_TIMEOUT:.0f}s after service rm: {', '.join(left)}", SWARM_FIX)


def cluster_views(settings: Settings) -> list[ContainerView]:
    """Every container of every node, its ports shown on its node's address; a node that does
    not answer has none. Raises when no node answers at all."""
    from svcctl.docker.containers import layout_views

    assert settings.layout is not None
    per_host = layout_views(settings.layout)
    if all(found is None for _, found in per_host):
        raise SvcctlError(f"no node of project {settings.project}'s swarm answers", SWARM_FIX)
    return [view for _, found in per_host for view in found or []]


def image_of(settings: Settings, name: str) -> str:
    """The image the sample service's swarm service runs now."""
    from svcctl.errors import NotFoundError

    service = _services(settings).get(f"{settings.project}_{name}")
    if service is None:
        raise NotFoundError(f"{name} is not a service of the swarm", f"`svcctl up {name}`")
    image = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    return str(image).split("@", 1)[0]


def roll(settings: Settings, name: str, image: str) -> None:
    """A rolling update of the sample service to `image` (start-first: a new task runs before an
    old one stops), waited for. A tag no node has yet is made on every node from the one it
    replaces (there is no registry to pull from); the nodes that do not answer are skipped."""
    from svcctl.docker.engine import client_for
    from svcctl.docker.images import ensure_tag
    from svcctl.docker.swarm import update_image

    assert settings.layout is not None
    current = image_of(settings, name)
    for member in settings.layout.hosts:
        try:
            client = client_for(member.endpoint, timeout=5)
        except SvcctlError:
            continue
        ensure_tag(client, current, image)
    update_image(swarm_manager(settings.layout).endpoint, f"{settings.project}_{name}", image)
