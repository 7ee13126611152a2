"""The registrators of a cluster as `cluster status` and `registrator status` list them: their
containers (the project's own, or each host's) joined with what their election nodes say."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from svcctl.config.settings import Settings
from svcctl.ensemble.project import REGISTRATOR_SERVICES, container_prefix
from svcctl.errors import SvcctlError
from svcctl.registrator.status import RegistratorStatus, read_registrators, since_text


@dataclass
class RegistratorRow:
    """One row of the registrators table (`cluster status`, `registrator status`): a registrator
    and what ZooKeeper says of it, with its container's state when the engine was asked."""

    container: str  # the registrator's id: its container name for the project's own
    state: str | None  # the container's state, "absent", or None when the engine was not asked
    role: str  # active | standby | unknown (ZooKeeper unreachable or not elected yet)
    since: float | None
    registrations: int | None
    session: str | None
    engine: str | None = None  # the engine it registers for (its election)
    identity: str | None = None  # its x509 identity on a secured registry

    @classmethod
    def from_status(cls, status: RegistratorStatus, state: str | None = None) -> RegistratorRow:
        return cls(
            status.id,
            state,
            status.role,
            status.since,
            status.registrations,
            status.session,
            status.engine_id,
            status.identity,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def since_text(self) -> str:
        return since_text(self.since)


def cluster_registrators(settings: Settings, zk_reachable: bool) -> list[RegistratorRow]:
    """The project's registrator containers (when compose/registrator.yml exists) joined with
    their election nodes by id (compose sets SVCCTL_REGISTRATOR_ID to the container name);
    registrators of the ensemble that are not this project's containers are listed after them."""
    from svcctl.docker.containers import container_states

    names: list[str] = []
    if (settings.project_path() / "compose" / "registrator.yml").is_file():
        names = [f"{container_prefix(settings.project)}{s}" for s in REGISTRATOR_SERVICES]
    try:
        states = container_states(settings.engine, names) if names else {}
    except SvcctlError:
        states = {}
    return join_registrators(settings, names, states, zk_reachable)


def join_registrators(
    settings: Settings, names: list[str], states: dict[str, str], zk_reachable: bool
) -> list[RegistratorRow]:
    """Registrator containers (in order, with their states) joined with their election nodes by
    id (ZooKeeper is asked only when reachable); the elected registrators that are none of these
    containers come after them."""
    found: list[RegistratorStatus] = []
    if zk_reachable:
        try:
            found = read_registrators(settings, connect_timeout=3.0)
        except SvcctlError:
            found = []
    by_id = {r.id: r for r in found}
    rows = []
    for name in names:
        r = by_id.pop(name, None)
        state = states.get(name, "absent")
        rows.append(
            RegistratorRow.from_status(r, state) if r else RegistratorRow(name, state, "unknown", None, None, None)
        )
    rows.extend(RegistratorRow.from_status(r) for r in by_id.values())
    return rows
