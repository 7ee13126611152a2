"""The registrator daemon: Docker events → ZooKeeper registrations, one active writer per
engine (elected among several registrators), with ensemble failover and session-loss recovery.

The naming rules and the reconciliation plan are pure functions in svcctl.registry.model; this
package is the glue around them, one part per responsibility:

- events.py      the engine's event stream as typed ContainerEvents (`since=` resume)
- inspector.py   `docker inspect` / `docker ps` with a cache and pipelined inspects
- drain.py       containers shutting down after a terminating signal (injectable clock)
- session.py     the ZooKeeper session: connect with bounded retries, stuck detection
- leadership.py  the election among the registrators of one engine, identity, handover
- writer.py      fenced writes: plan ops → multi-op transactions → typed outcomes
- reconciler.py  sync of some containers, full resync, the owned map
- daemon.py      wires the parts and dispatches their typed events on one loop thread
"""

ELECTION_ROOT = "/svcctl/registrators"
LOCK_MARKER = "__lock__"  # kazoo's Lock names its contender nodes `<uuid>__lock__<sequence>`


def election_path(engine_id: str, base: str = "/services") -> str:
    """One election per engine and registry base: registrators writing /services and others
    writing another base on the same engine do not stand by for each other."""
    key = engine_id if base.rstrip("/") == "/services" else f"{engine_id}@{base.strip('/').replace('/', '~')}"
    return f"{ELECTION_ROOT}/{key}"


def contenders_in_order(children: list[str]) -> list[str]:
    """kazoo lock contender node names in election order (by their 10-digit sequence suffix):
    the first one holds the lock, i.e. is the active registrator."""
    return sorted((c for c in children if LOCK_MARKER in c), key=lambda c: c[-10:])
