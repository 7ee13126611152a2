"""Where the containers of a cluster over hosts run: member i and its registrators on host i of
the recorded layout, and what each host's engine says of them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from svcctl.config.layout import HostMember
from svcctl.config.settings import Settings
from svcctl.ensemble.project import container_prefix
from svcctl.errors import SvcctlError

REGISTRATORS_PER_HOST = ("registrator1", "registrator2")


def member_container(settings: Settings, member: HostMember) -> str:
    return f"{container_prefix(settings.project)}zoo{member.member_id}"


def registrator_containers(member: HostMember) -> list[str]:
    return [f"{member.context}-{name}" for name in REGISTRATORS_PER_HOST]


def _host_states(settings: Settings, member: HostMember) -> dict[str, str]:
    """Container -> state on one host; every one 'host down' when its engine does not answer."""
    from svcctl.docker.engine import client_for

    names = [member_container(settings, member), *registrator_containers(member)]
    try:
        client = client_for(member.endpoint, timeout=3)
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
    return {m.context: s for m, s in zip(layout.hosts, states, strict=True)}
