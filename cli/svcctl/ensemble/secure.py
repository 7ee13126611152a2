"""A secured cluster's parts that do not depend on where it runs: the security mode of the
data an ensemble already has, the registry's writers, and the tree made the admin's with its
final ACLs (election locks that are not ours removed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from svcctl.config.settings import Settings
from svcctl.ensemble.project import container_prefix
from svcctl.progress import Progress, no_progress

if TYPE_CHECKING:
    from svcctl.config.engines import EngineEndpoint


def existing_mode(settings: Settings, hosts: list[EngineEndpoint] | None = None) -> str | None:
    """The mode of the project's existing ensemble data on this engine, or on the `hosts` of a
    cluster over hosts (a cluster taken down without --volumes leaves it): what `cluster up`
    recorded, or open for data made before modes were recorded; None when there is no ensemble
    data at all (e.g. a first `up --secure` that failed before any, hosts made anew)."""
    import re

    from svcctl.docker.engine import client_for, docker_client
    from svcctl.security.mode import OPEN, recorded_mode

    clients = [docker_client(settings.engine)] if hosts is None else [client_for(endpoint) for endpoint in hosts]
    member_data = re.compile(r"zoo\d*-data$")  # zoo1-data.. on one engine, zoo-data on each host
    if not any(
        member_data.search(v.name)
        for client in clients
        for v in client.volumes.list(filters={"label": f"com.docker.compose.project={settings.project}"})
    ):
        return None
    return recorded_mode(settings.state_path(), settings.project, over_hosts=hosts is not None) or OPEN


def _same_acl(current: list, wanted: list) -> bool:
    return sorted(map(str, current)) == sorted(map(str, wanted))


def foreign_lock_reason(acl: list, data: bytes | None, registrator_acl, registrator_ids: set[str]) -> str | None:
    """Why an election lock is not one of this project's registrators' (None when it is). Its
    creator chose its ACL, so the ACL alone proves nothing: the lock must also carry the
    identity a registrator of ours publishes in it (leadership.py: JSON with its `id`)."""
    from svcctl.registry.election import ElectionIdentity

    if registrator_acl not in acl:
        return "not a registrator identity"
    claimed = ElectionIdentity.from_bytes(data).id
    if claimed not in registrator_ids:
        return (
            f"names {claimed!r}, not a registrator of this project"
            if claimed is not None
            else "names no registrator of this project"
        )
    return None


@dataclass(frozen=True)
class RegistryWriter:
    """The registrators of one engine, as the audit of a secured registry knows them: the x509
    identity they write with, the engine they register for (its election), and the ids they
    publish in their election locks (their container names)."""

    identity: str
    engine_id: str
    registrator_ids: frozenset[str]


def local_writers(settings: Settings) -> list[RegistryWriter]:
    """A secured cluster on one engine: the project's registrators (compose/secure.yml) with
    the one registrator identity."""
    from svcctl.docker.engine import docker_client, engine_id
    from svcctl.ensemble.project import REGISTRATOR_SERVICES
    from svcctl.security.mode import project_pki
    from svcctl.zk.tls import read_cert

    ids = frozenset(f"{container_prefix(settings.project)}{service}" for service in REGISTRATOR_SERVICES)
    return [
        RegistryWriter(
            read_cert(project_pki(settings).registrator.cert).subject, engine_id(docker_client(settings.engine)), ids
        )
    ]


def secure_tree(settings: Settings, writers: list[RegistryWriter], on_progress: Progress = no_progress) -> list[str]:
    """Make the tree the admin's and audit the registry, as the admin identity (the ensemble's
    x509 super user); returns what was repaired (each also reported on `on_progress`).

    - `/`, `/zookeeper` and `/zookeeper/quota`: writable by the admin only, readable by anyone
      (every session is authenticated: anyone means any certificate holder).
    - `/services`, `/svcctl`, the election root and each writer engine's election node: created
      with their final ACL (all rights for every writer identity, read for anyone).
    - every node below `/services` and `/svcctl`: that same ACL, set where it differs; an
      election lock that is not one of its engine's registrators' (foreign_lock_reason) is
      removed (it would stand every registrator by)."""
    from kazoo.exceptions import NodeExistsError, NoNodeError
    from kazoo.security import make_acl

    from svcctl.config.settings import DEFAULT_BASE
    from svcctl.registry.election import ELECTION_ROOT, election_path
    from svcctl.security.mode import ensemble_tls, project_pki
    from svcctl.zk import ops
    from svcctl.zk.client import zk_session
    from svcctl.zk.tls import read_cert
    from svcctl.zk.tls import registry_acl as writers_acl

    pki = project_pki(settings)
    read = make_acl("world", "anyone", read=True)
    admin_acl = [make_acl("x509", read_cert(pki.admin.cert).subject, all=True), read]
    registry_acl = writers_acl([w.identity for w in writers])
    by_election = {election_path(w.engine_id): w for w in writers}
    # A lock of an engine that is none of the writers' (a host no longer in the cluster): any of ours.
    all_ids = frozenset().union(*(w.registrator_ids for w in writers))
    election_parents = [DEFAULT_BASE, "/svcctl", ELECTION_ROOT, *by_election]
    repaired: list[str] = []

    def report(what: str) -> None:
        repaired.append(what)
        on_progress(f"repaired: {what}")

    def lock_reason(path: str, acl: list, data: bytes | None) -> str | None:
        writer = by_election.get(path.rsplit("/", 1)[0])
        if writer is None:
            reasons = [foreign_lock_reason(acl, data, make_acl("x509", w.identity, all=True), all_ids) for w in writers]
            return None if None in reasons else reasons[0]
        return foreign_lock_reason(acl, data, make_acl("x509", writer.identity, all=True), writer.registrator_ids)

    with zk_session(settings.ensemble_hosts, tls=ensemble_tls(settings)) as zk:
        for path in ("/", "/zookeeper", "/zookeeper/quota"):
            current, _ = zk.get_acls(path)
            if not _same_acl(current, admin_acl):
                zk.set_acls(path, admin_acl)
                on_progress(f"ACL of {path} set (writable by the admin only, readable by anyone)")
        for path in election_parents:
            try:
                zk.create(path, b"", acl=registry_acl)
                on_progress(f"created {path} (writable by the registrators, readable by anyone)")
            except NodeExistsError:
                pass
        for name in zk.get_children("/"):
            if f"/{name}" not in (DEFAULT_BASE, "/svcctl", "/zookeeper"):
                on_progress(
                    f"note: top-level node /{name} is not svcctl's (left alone; `svcctl zk rm /{name}` removes it)"
                )
        for root in (DEFAULT_BASE, "/svcctl"):
            children = ops.walk(zk, root)
            for path in [root, *ops.descendants(root, children)]:
                try:
                    current, stat = zk.get_acls(path)
                    lock = path.startswith(ELECTION_ROOT + "/") and path.count("/") == ELECTION_ROOT.count("/") + 2
                    reason = lock_reason(path, current, zk.get(path)[0]) if lock else None
                    if reason:
                        zk.delete(path)
                        report(f"removed election lock {path} (owned by session {hex(stat.ephemeralOwner)}, {reason})")
                    elif not _same_acl(current, registry_acl):
                        zk.set_acls(path, registry_acl)
                        report(f"ACL of {path} set (was {', '.join(sorted(map(_acl_text, current)))})")
                except NoNodeError:
                    continue  # gone while we looked (a registration of a stopped container)
    return repaired


def _acl_text(acl) -> str:
    perms = "".join(flag for flag, bit in (("c", 4), ("d", 8), ("r", 1), ("w", 2), ("a", 16)) if acl.perms & bit)
    return f"{acl.id.scheme}:{acl.id.id}:{perms}"
