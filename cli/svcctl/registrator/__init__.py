"""The registrator daemon: Docker events → ZooKeeper registrations, one active writer per
engine (elected among several registrators), with ensemble failover and session-loss recovery.
The naming rules and the reconciliation plan are pure functions in svcctl.registration; this
package is the glue around them."""

ELECTION_ROOT = "/svcctl/registrators"


def election_path(engine_id: str) -> str:
    return f"{ELECTION_ROOT}/{engine_id}"
