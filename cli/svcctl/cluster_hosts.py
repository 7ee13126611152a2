"""The ensemble spread over Docker hosts (`svcctl cluster up --hosts CTX1,CTX2,CTX3`): member i
and the registrators of host i run on host i's engine (compose/hosts.yml), and the layout is
recorded so later commands find the members. cluster.py dispatches here when a layout exists."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from .compose import compose_client, compose_error, container_prefix, require_compose
from .config import Settings
from .errors import BadInputError, ConflictError, DockerUnavailableError, SvcctlError
from .layout import ClusterLayout, HostMember, remove_layout, save_layout
from .progress import Progress, no_progress

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from .registrator.status import RegistratorRow

HOST_COMPOSE_FILE = "hosts.yml"
REGISTRATORS_PER_HOST = ("registrator1", "registrator2")


def parse_contexts(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or len(set(names)) != len(names):
        raise BadInputError(f"bad --hosts {text!r}: give distinct Docker contexts", "e.g. --hosts svcctl-host1,svcctl-host2,svcctl-host3 (see `svcctl hosts ls`)")
    if len(names) % 2 == 0:
        raise BadInputError(f"bad --hosts {text!r}: {len(names)} members cannot outvote a split", "give an odd number of hosts, e.g. three")
    return names


def plan_layout(project: str, contexts: list[str], docker_env: dict[str, str]) -> ClusterLayout:
    """Member i on the engine of context i, reached at that engine's TCP address."""
    from .engine import context_endpoint

    hosts = []
    for index, name in enumerate(contexts, start=1):
        endpoint = context_endpoint(name, docker_env)
        if not endpoint.host.startswith("tcp://"):
            raise BadInputError(f"context {name} is not a TCP engine ({endpoint.host})", "each member needs a host reachable at its own address, e.g. `svcctl hosts up`")
        hosts.append(HostMember(name, endpoint.host, endpoint.address, index))
    addresses = [h.address for h in hosts]
    if len(set(addresses)) != len(addresses):
        raise BadInputError(f"two contexts of --hosts reach the same address ({', '.join(addresses)})", "give one context per host")
    return ClusterLayout(project, tuple(hosts))


def member_container(settings: Settings, member: HostMember) -> str:
    return f"{container_prefix(settings.project)}zoo{member.member_id}"


def registrator_containers(member: HostMember) -> list[str]:
    return [f"{member.context}-{name}" for name in REGISTRATORS_PER_HOST]


def host_compose_client(settings: Settings, layout: ClusterLayout, member: HostMember) -> "DockerClient":
    """Compose on one host's engine with hosts.yml; the host's own ${VARS} go in the env file."""
    return compose_client(
        settings,
        extra={
            "SVCCTL_HOST_NAME": member.context,
            "SVCCTL_HOST_ADDRESS": member.address,
            "SVCCTL_MEMBER_ID": str(member.member_id),
            "SVCCTL_ZOO_SERVERS": layout.zoo_servers(),
            "SVCCTL_ZK_CONNECT": layout.connect_string(),
        },
        files=[HOST_COMPOSE_FILE],
        host=member.engine,
    )


def up(settings: Settings, contexts: list[str], on_progress: Progress = no_progress) -> ClusterLayout:
    """Each host's member and registrators started (Compose leaves running ones alone), then
    the layout recorded; the caller waits for quorum."""
    from python_on_whales.exceptions import DockerException

    require_compose()
    layout = plan_layout(settings.project, contexts, settings.docker_env())
    if settings.layout is not None and settings.layout.contexts() != layout.contexts():
        raise ConflictError(
            f"the cluster of project {settings.project} already runs on {', '.join(settings.layout.contexts())}",
            "`svcctl cluster down` first, or run `svcctl cluster up` without --hosts to start it again",
        )
    for member in layout.hosts:
        on_progress(f"{member.context} ({member.address}): zoo{member.member_id}, {', '.join(registrator_containers(member))}")
        try:
            host_compose_client(settings, layout, member).compose.up(detach=True, quiet=True, pull="never")
        except DockerException as exc:
            raise compose_error(exc, f"cluster up on {member.context}") from exc
    save_layout(settings.state_path(), layout)
    settings.layout = layout
    settings.zk = layout.connect_string()  # what the status after it reads the registrators from
    return layout


def down(settings: Settings, volumes: bool = False, on_progress: Progress = no_progress) -> list[str]:
    """Remove the cluster's containers from every host that answers, then forget the layout.
    Returns the hosts that did not answer (their containers go with `svcctl hosts down`)."""
    from python_on_whales.exceptions import DockerException

    from .engine import client_for

    layout = settings.layout
    assert layout is not None
    require_compose()
    unreachable = []
    for member in layout.hosts:
        try:
            client_for(member.engine, timeout=3)
        except DockerUnavailableError:
            on_progress(f"{member.context}: the engine does not answer; skipped")
            unreachable.append(member.context)
            continue
        on_progress(f"{member.context}: removing zoo{member.member_id} and its registrators" + (" and volumes" if volumes else ""))
        try:
            host_compose_client(settings, layout, member).compose.down(volumes=volumes, quiet=True, timeout=10)
        except DockerException as exc:
            raise compose_error(exc, f"cluster down on {member.context}") from exc
    remove_layout(settings.state_path(), settings.project)
    settings.layout = None
    return unreachable


def _host_states(settings: Settings, member: HostMember) -> dict[str, str]:
    """Container -> state on one host; every one 'host down' when its engine does not answer."""
    from .engine import client_for

    names = [member_container(settings, member), *registrator_containers(member)]
    try:
        client = client_for(member.engine, timeout=3)
        found = {c.name: c.status for c in client.containers.list(all=True, filters={"name": names})}
    except (SvcctlError, OSError):
        return {name: "host down" for name in names}
    return {name: found.get(name, "absent") for name in names}


def host_states(settings: Settings) -> dict[str, dict[str, str]]:
    """context -> container -> state, every host asked in parallel."""
    layout = settings.layout
    assert layout is not None
    with ThreadPoolExecutor(max_workers=len(layout.hosts)) as pool:
        states = list(pool.map(lambda m: _host_states(settings, m), layout.hosts))
    return {m.context: s for m, s in zip(layout.hosts, states)}


def registrator_rows(settings: Settings, states: dict[str, dict[str, str]], zk_reachable: bool) -> list["RegistratorRow"]:
    """Per host, its registrator containers joined with their election nodes by id."""
    from .registrator.status import join_registrators

    layout = settings.layout
    assert layout is not None
    names = [name for member in layout.hosts for name in registrator_containers(member)]
    merged = {name: state for member in layout.hosts for name, state in states.get(member.context, {}).items()}
    return join_registrators(settings, names, merged, zk_reachable)
