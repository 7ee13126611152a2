"""The project's cluster, wherever it runs: on this process's engine (ensemble.local) or over
Docker hosts (ensemble.hosts: given contexts, or a recorded layout). The one place that
chooses."""

from __future__ import annotations

from dataclasses import replace

from svcctl.config.settings import Settings
from svcctl.ensemble import hosts as over_hosts
from svcctl.ensemble import local
from svcctl.ensemble.local import MemberStatus, wait_for_quorum
from svcctl.errors import BadInputError
from svcctl.progress import Progress, no_progress


def up(
    settings: Settings,
    timeout: float = 120,
    on_progress: Progress = no_progress,
    hosts: list[str] | None = None,
    secure: bool = False,
    rotate: bool = False,
) -> tuple[Settings, list[MemberStatus]]:
    """Start the cluster and wait for quorum: with `hosts` (Docker contexts), or when a cluster
    over hosts is recorded, member i and its registrators run on host i. Returns the settings
    of what follows (over hosts: with the layout just recorded) and the members."""
    if hosts or settings.layout is not None:
        if rotate:
            raise BadInputError(
                "--rotate remakes the PKI of a secured cluster on one engine",
                "over hosts, `svcctl pki rotate --host NAME` re-issues one host's registrator identity",
            )
        settings = over_hosts.up(settings, hosts or settings.layout.contexts(), secure, timeout, on_progress)  # type: ignore[union-attr]
        return settings, wait_for_quorum(settings, timeout, on_progress)
    return settings, local.up(settings, timeout, on_progress, secure=secure, rotate=rotate)


def down(settings: Settings, volumes: bool = False, on_progress: Progress = no_progress) -> Settings:
    """Remove the cluster; returns the settings of what follows (without a layout)."""
    if settings.layout is not None:
        over_hosts.down(settings, volumes, on_progress)
        return replace(settings, layout=None)
    local.down(settings, volumes, on_progress)
    return settings
