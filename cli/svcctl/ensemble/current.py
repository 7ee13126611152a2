"""The project's cluster, wherever it runs: on this process's engine (local.LocalEnsemble), over
Docker hosts with Compose on each (hosts.HostsEnsemble: given contexts, or a recorded layout), or
as a stack on the hosts' swarm (swarm.SwarmEnsemble). The one place that chooses; another kind of
ensemble is one more class and one more branch here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from svcctl.config.settings import Settings, ZkHost
from svcctl.ensemble.hosts import HostsEnsemble
from svcctl.ensemble.local import LocalEnsemble
from svcctl.ensemble.members import MemberStatus
from svcctl.ensemble.swarm import SwarmEnsemble
from svcctl.progress import Progress, no_progress
from svcctl.security.mode import SecurityPolicy

if TYPE_CHECKING:
    from svcctl.ensemble.status import RegistratorRow


class Ensemble(Protocol):
    """What the cluster commands and the walkthrough ask of an ensemble, wherever it runs."""

    def up(
        self, policy: SecurityPolicy, timeout: float = 120, on_progress: Progress = no_progress
    ) -> tuple[Settings, list[MemberStatus]]:
        """Start it under `policy` and wait for quorum: the settings of what follows (over hosts:
        with the layout just recorded) and the members."""
        ...

    def down(self, volumes: bool = False, on_progress: Progress = no_progress) -> Settings:
        """Remove it (with its volumes: its data): the settings of what follows (without a layout)."""
        ...

    def status(self) -> list[MemberStatus]: ...

    def member_containers(self) -> dict[ZkHost, str]: ...

    def registrators(self, zk_reachable: bool) -> list[RegistratorRow]: ...


def ensemble(settings: Settings, hosts: list[str] | None = None, swarm: bool = False) -> Ensemble:
    """With `hosts` (Docker contexts), or when a cluster over hosts is recorded, member i runs on
    host i: as a stack on their swarm with `swarm` (or when the recorded one is), else with its
    registrators by Compose on each host; without either, the cluster runs on this process's engine."""
    if swarm or (settings.layout is not None and settings.layout.on_swarm):
        return SwarmEnsemble(settings, tuple(hosts or ()))
    if hosts or settings.layout is not None:
        return HostsEnsemble(settings, tuple(hosts or ()))
    return LocalEnsemble(settings)
