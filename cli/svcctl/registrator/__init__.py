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
