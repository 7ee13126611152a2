"""Where the registrators of one engine elect their writer: the election tree's paths and the
order of its contenders (kazoo's Lock recipe). Pure: read by the daemon, the status readers,
the cache and the audit of a secured tree alike."""

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
