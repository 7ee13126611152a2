"""An ensemble's members as `cluster up|status` report them, and what their modes add up to:
a quorum, the ensemble's health, the security mode's name. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from svcctl.errors import CheckFailedError, DegradedError
from svcctl.security.mode import SECURE
from svcctl.zk.fourletter import ServerStats


@dataclass
class MemberStatus:
    """One member of the ensemble: its container and what it answers."""

    member: str  # host:port as in --zk
    container: str
    state: str  # the container's state, or "absent" ("host down" when its host does not answer)
    stats: ServerStats = field(default_factory=ServerStats)
    host: str | None = None  # the Docker context of its host (a cluster over hosts)

    def to_dict(self) -> dict:
        return {
            "member": self.member,
            "container": self.container,
            "state": self.state,
            "host": self.host,
            **self.stats.to_dict(),
        }


# What a member of a quorum answers (a lone "standalone" server is none).
QUORUM_MODES = ("leader", "follower", "observer")


def quorum_reached(modes: list[str]) -> bool:
    """Exactly one leader and every other member a follower (or observer)."""
    return modes.count("leader") == 1 and all(m in QUORUM_MODES for m in modes)


HEALTHY, DEGRADED, NO_QUORUM = "healthy", "degraded", "no quorum"


def ensemble_health(modes: list[str]) -> str:
    """healthy: every member serves under one leader; degraded: one leader and a majority of
    the members serving, some not (the ensemble still accepts reads and writes, one more loss
    may end that); no quorum otherwise."""
    serving = sum(1 for m in modes if m in QUORUM_MODES)
    if modes.count("leader") != 1 or serving <= len(modes) // 2:
        return NO_QUORUM
    return HEALTHY if serving == len(modes) else DEGRADED


def require_healthy(nodes: list) -> None:
    """Raise unless every member serves: no quorum (exit 8) or degraded (exit 9), naming the
    members that do not serve."""
    health = ensemble_health([n.stats.mode for n in nodes])
    if health == HEALTHY:
        return
    serving = sum(1 for n in nodes if n.stats.mode in QUORUM_MODES)
    down = (
        ", ".join(f"{n.container} ({n.state}, {n.stats.mode})" for n in nodes if n.stats.mode not in QUORUM_MODES)
        or "none"
    )
    if health == NO_QUORUM:
        raise CheckFailedError(
            f"the ensemble has no quorum ({serving} of {len(nodes)} members serving; not serving: {down})",
            "`svcctl cluster up` starts missing members",
        )
    raise DegradedError(
        f"the ensemble is degraded: quorum held by {serving} of {len(nodes)} members; not serving: {down}",
        "`svcctl cluster up` starts the missing member; one more loss ends the quorum",
    )


def mode_name(mode: str) -> str:
    """A security mode (security.mode's OPEN or SECURE) as people read it."""
    return "TLS+ACL" if mode == SECURE else "open"
