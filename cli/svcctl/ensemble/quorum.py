"""Waiting for an ensemble's quorum, wherever its members run: the four-letter words asked of
every member until one leads and the others follow, or a timeout that carries each failing
member's last log lines."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from svcctl.config.settings import Settings, ZkHost
from svcctl.docker.containers import container_log_tail
from svcctl.ensemble.members import quorum_reached
from svcctl.errors import WaitTimeoutError
from svcctl.progress import Progress, no_progress
from svcctl.wait import poll_until
from svcctl.zk.fourletter import SERVING_MODES, ServerStats, server_stats

if TYPE_CHECKING:
    import ssl

    from svcctl.config.engines import EngineEndpoint


def four_letter_tls(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for four-letter words on a secured project's members (None: open)."""
    from svcctl.security.mode import ensemble_tls

    tls = ensemble_tls(settings)
    return tls.context() if tls is not None else None


def quorum_report(hosts: list[ZkHost], modes: list[str]) -> str:
    """Each member's mode, short enough for a progress line (pure): `127.0.0.1 :2181 leader,
    :2182 follower, …` when the members share an address, else `ADDR:PORT mode, …`."""
    if len({h.host for h in hosts}) == 1 and hosts:
        return f"{hosts[0].host} " + ", ".join(f":{h.port} {m}" for h, m in zip(hosts, modes, strict=True))
    return ", ".join(f"{h} {m}" for h, m in zip(hosts, modes, strict=True))


def wait_for_quorum(
    settings: Settings,
    containers: dict[ZkHost, str],
    engines: dict[ZkHost, EngineEndpoint] | None = None,
    timeout: float = 120,
    on_progress: Progress = no_progress,
) -> list[ServerStats]:
    """What each of the project's members answers once they form a quorum. `containers`: the
    container behind each member; `engines`: each member's own engine over hosts (None: all on
    the settings' engine). On timeout the error's details hold the failing members' log lines."""
    hosts = settings.ensemble_hosts
    last_report = ""
    tls = four_letter_tls(settings)

    def look() -> list[ServerStats]:
        nonlocal last_report
        stats = [server_stats(h.host, h.port, timeout=1.0, tls=tls) for h in hosts]
        report = quorum_report(hosts, [s.mode for s in stats])
        if report != last_report:
            on_progress(f"waiting for quorum: {report}")
            last_report = report
        return stats

    stats = poll_until(
        look, lambda found: quorum_reached([s.mode for s in found]), time.monotonic() + timeout, interval=0.5
    )
    if quorum_reached([s.mode for s in stats]):
        return stats
    report = last_report
    failing = [(h, s) for h, s in zip(hosts, stats, strict=True) if s.mode not in SERVING_MODES]
    engines = engines or {}
    details = []
    for host, stat in failing:
        details.append(
            f"--- {containers.get(host, host)} ({host}: {stat.mode}{', ' + stat.error if stat.error else ''}) last "
            "log lines:"
        )
        engine = engines.get(host)
        details.append(
            container_log_tail(containers.get(host, ""), 15, engine or settings.engine, timeout=5 if engine else 30)
        )
    raise WaitTimeoutError(
        f"no quorum after {timeout:.0f}s (tried srvr on {', '.join(map(str, hosts))}: {report})",
        "read the log lines below; `svcctl cluster down && svcctl cluster up` restarts the ensemble",
        details="\n".join(details),
    )
