"""`svcctl logs`: the project's containers' logs by component — the ZooKeeper members, the
registrators, the gateway, the API proxy of a secured cluster, a sample service's instances —
on this command's engine and, for a cluster over hosts, on every host's engine."""

from __future__ import annotations

from svcctl.config.settings import Settings
from svcctl.docker.logs import ProjectContainer, project_containers
from svcctl.errors import BadInputError, NotFoundError
from svcctl.walkthrough.samples import known_services

# The components that are not sample services, and which Compose services are each (over hosts
# a host's member is the service `zoo`; here zoo1..zoo3).
ZOOKEEPER, REGISTRATOR, GATEWAY, DOCKER_PROXY = "zookeeper", "registrator", "gateway", "docker-proxy"


def components() -> list[str]:
    """Every component `svcctl logs` takes, in the order it lists them."""
    return [ZOOKEEPER, REGISTRATOR, GATEWAY, DOCKER_PROXY, *known_services()]


def component_of(compose_service: str) -> str | None:
    """The component a Compose service of the project belongs to (pure): zoo, zoo1..zoo3 →
    zookeeper; registrator, registrator1.. → registrator; gateway; docker-proxy; a sample service's name."""
    if compose_service == "zoo" or (compose_service.startswith("zoo") and compose_service[3:].isdigit()):
        return ZOOKEEPER
    rest = compose_service.removeprefix(REGISTRATOR)
    if compose_service.startswith(REGISTRATOR) and (rest == "" or rest.isdigit()):  # a swarm's: one service
        return REGISTRATOR
    if compose_service in (GATEWAY, DOCKER_PROXY, *known_services()):
        return compose_service
    return None


def check_component(component: str | None) -> None:
    """A component name `logs` does not know is bad input naming the ones it does."""
    if component is not None and component not in components():
        raise BadInputError(f"unknown component {component!r}", f"choose from: {', '.join(components())}")


def select(containers: list[ProjectContainer], component: str | None) -> list[ProjectContainer]:
    """The containers of one component (None: every container of the project) (pure)."""
    return [
        c
        for c in containers
        if component_of(c.service) is not None and (component is None or component_of(c.service) == component)
    ]


def log_containers(settings: Settings, component: str | None) -> tuple[list[ProjectContainer], list[str]]:
    """The containers whose logs `svcctl logs COMPONENT` shows (svcctl.docker.logs.read_logs
    reads them), and the hosts that did not answer."""
    check_component(component)
    engines = [(settings.engine, None)]
    if settings.layout is not None:
        engines += [(h.endpoint, h.context) for h in settings.layout.hosts if h.engine != settings.engine.host]
    found, down = project_containers(engines, settings.project)
    chosen = select(found, component)
    if not chosen:
        what = f"no {component} container" if component else "no container"
        raise NotFoundError(
            f"{what} of project {settings.project} on the engine{'s' if len(engines) > 1 else ''}",
            "start it: `svcctl cluster up`, `svcctl gateway up` or `svcctl up SERVICE`",
        )
    return chosen, down
