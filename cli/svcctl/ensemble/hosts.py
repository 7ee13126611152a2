"""The ensemble spread over Docker hosts (`svcctl cluster up --hosts CTX1,CTX2,CTX3`): member i
and the registrators of host i run on host i's engine (compose/hosts.yml), and the layout is
recorded so later commands find the members: HostsEnsemble, which ensemble.current chooses when
--hosts is given or a layout is recorded.

Secured (`--secure`, compose/hosts-secure.yml layered on): each host gets only its own part of
the PKI, shipped into volumes on its engine (a remote engine cannot mount our files), and its
registrators write as an identity of their own, CN=svcctl-registrator@<host>."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from svcctl.config.layout import ClusterLayout, HostMember, remove_layout, save_layout
from svcctl.config.settings import Settings, ZkHost
from svcctl.docker import labels
from svcctl.docker.compose import require_compose, run_compose
from svcctl.ensemble.members import MemberStatus, mode_name
from svcctl.ensemble.placement import REGISTRATORS_PER_HOST, host_states, member_container, registrator_containers
from svcctl.ensemble.project import compose_client
from svcctl.ensemble.quorum import four_letter_tls, wait_for_quorum
from svcctl.ensemble.secure import RegistryWriter, existing_mode, secure_tree
from svcctl.errors import BadInputError, ConflictError, DockerUnavailableError, NotFoundError
from svcctl.progress import Progress, no_progress
from svcctl.security.mode import SecurityPolicy
from svcctl.zk.fourletter import ServerStats, server_stats

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from svcctl.config.engines import EngineEndpoint
    from svcctl.ensemble.status import RegistratorRow
    from svcctl.security.pki import HostBundle

HOST_COMPOSE_FILE = "hosts.yml"
HOST_SECURE_COMPOSE_FILE = "hosts-secure.yml"
MEMBER_SERVICE = "zoo"


def parse_contexts(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or len(set(names)) != len(names):
        raise BadInputError(
            f"bad --hosts {text!r}: give distinct Docker contexts",
            "e.g. --hosts svcctl-host1,svcctl-host2,svcctl-host3 (see `svcctl hosts ls`)",
        )
    if len(names) % 2 == 0:
        raise BadInputError(
            f"bad --hosts {text!r}: {len(names)} members cannot outvote a split",
            "give an odd number of hosts, e.g. three",
        )
    return names


def plan_layout(project: str, contexts: list[str], docker_env: dict[str, str]) -> ClusterLayout:
    """Member i on the engine of context i, reached at that engine's TCP address."""
    from svcctl.config.engines import context_endpoint

    hosts = []
    for index, name in enumerate(contexts, start=1):
        endpoint = context_endpoint(name, docker_env)
        if not endpoint.host.startswith("tcp://"):
            raise BadInputError(
                f"context {name} is not a TCP engine ({endpoint.host})",
                "each member needs a host reachable at its own address, e.g. `svcctl hosts up`",
            )
        hosts.append(HostMember(name, endpoint.host, endpoint.address, index, tls_dir=endpoint.tls_dir))
    addresses = [h.address for h in hosts]
    if len(set(addresses)) != len(addresses):
        raise BadInputError(
            f"two contexts of --hosts reach the same address ({', '.join(addresses)})", "give one context per host"
        )
    return ClusterLayout(project, tuple(hosts))


def pki_volume(project: str) -> str:
    """The prefix of the volumes a host's engine keeps its part of the PKI in (-member, -registrator)."""
    return f"{project}-pki"


def host_bundles(layout: ClusterLayout) -> list[HostBundle]:
    from svcctl.security.pki import HostBundle

    return [HostBundle(m.context, f"zoo{m.member_id}", m.address) for m in layout.hosts]


def writer_identities(layout: ClusterLayout) -> list[str]:
    """Every host's registrator identity: each is a writer of the whole registry."""
    from svcctl.security.pki import host_registrator_cn

    return [f"CN={host_registrator_cn(m.context)}" for m in layout.hosts]


def host_compose_client(
    settings: Settings, layout: ClusterLayout, member: HostMember, secure: bool = False
) -> DockerClient:
    """Compose on one host's engine with hosts.yml (and hosts-secure.yml); the host's own
    ${VARS} go in the env file."""
    extra = {
        "SVCCTL_HOST_NAME": member.context,
        "SVCCTL_HOST_ADDRESS": member.address,
        "SVCCTL_MEMBER_ID": str(member.member_id),
        "SVCCTL_ZOO_SERVERS": layout.zoo_servers(),
        "SVCCTL_ZK_CONNECT": layout.connect_string(),
    }
    files = [HOST_COMPOSE_FILE]
    if secure:
        from svcctl.security.mode import project_pki
        from svcctl.security.pki import bundle_fingerprint

        pki = project_pki(settings)
        extra.update(
            {
                "SVCCTL_PKI_VOLUME": pki_volume(settings.project),
                "SVCCTL_MEMBER_PKI_ID": bundle_fingerprint(pki.host_member_dir(member.context)),
                "SVCCTL_REGISTRATOR_PKI_ID": bundle_fingerprint(pki.host_registrator(member.context).cert.parent),
                "SVCCTL_ZK_WRITERS": " ".join(writer_identities(layout)),
            }
        )
        files.append(HOST_SECURE_COMPOSE_FILE)
    return compose_client(settings, extra=extra, files=files, engine=member.endpoint)


def ship_pki(settings: Settings, member: HostMember, parts: tuple[str, ...] = ("member", "registrator")) -> None:
    """Copy this host's part of the PKI into the volumes on its engine that its member and
    registrators mount read-only: the files owned by the uid the containers run as, keys 0600,
    nothing else of the PKI (no other host's keys, no CA key). A throwaway container of the
    members' image (already on the host) carries the copy; it never starts."""
    import io
    import tarfile

    from svcctl.docker.engine import client_for
    from svcctl.docker.objects import or_none
    from svcctl.security.mode import project_pki
    from svcctl.security.pki import container_owner

    pki = project_pki(settings)
    uid, gid = container_owner(settings.container_uid)
    sources = {
        "member": pki.host_member_dir(member.context),
        "registrator": pki.host_registrator(member.context).cert.parent,
    }
    client = client_for(member.endpoint, timeout=30)
    for part in parts:
        volume = f"{pki_volume(settings.project)}-{part}"
        if or_none(client.volumes.get, volume) is None:
            client.volumes.create(volume, labels={labels.PKI_PROJECT: settings.project})
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for path in sorted(p for p in sources[part].iterdir() if p.is_file() and p.suffix == ".pem"):
                data = path.read_bytes()
                info = tarfile.TarInfo(path.name)
                info.size, info.uid, info.gid, info.mode, info.mtime = (
                    len(data),
                    uid,
                    gid,
                    path.stat().st_mode & 0o777,
                    path.stat().st_mtime,
                )
                tar.addfile(info, io.BytesIO(data))
        carrier = or_none(
            client.containers.create,
            settings.zk_image,
            command=["true"],
            entrypoint=[],
            network_mode="none",
            volumes={volume: {"bind": "/pki", "mode": "rw"}},
            labels={"SERVICE_IGNORE": "true"},
        )
        if carrier is None:  # the engine's 404 here is the image's
            raise NotFoundError(
                f"image {settings.zk_image} is not on host {member.context}",
                "load the project's images into the hosts: `svcctl hosts up "
                f"{len(settings.layout.hosts) if settings.layout else 3}`",
            )
        try:
            carrier.put_archive("/pki", archive.getvalue())
        finally:
            carrier.remove(force=True)


def remove_pki_volumes(settings: Settings, member: HostMember) -> None:
    """The host's part of the PKI off its engine (its containers are gone)."""
    from svcctl.docker.engine import client_for
    from svcctl.docker.objects import or_none, remove

    client = client_for(member.endpoint, timeout=30)
    for part in ("member", "registrator"):
        volume = or_none(client.volumes.get, f"{pki_volume(settings.project)}-{part}")
        if volume is not None:
            remove(volume, force=True)


def _compose_up(
    settings: Settings, layout: ClusterLayout, member: HostMember, secure: bool, services: list[str] | None = None
) -> None:
    compose = host_compose_client(settings, layout, member, secure)
    run_compose(
        f"cluster up on {member.context}",
        lambda: compose.compose.up(services=services, detach=True, quiet=True, pull="never"),
    )


def rotate_host(settings: Settings, host: str, on_progress: Progress = no_progress) -> str:
    """A new key for one host's registrator identity, shipped to that host, whose registrators
    are recreated on it (Compose sees the new digest); the other hosts are not touched.
    Returns the identity's subject."""
    from svcctl.security.mode import SECURE, project_mode, project_pki
    from svcctl.security.pki import reissue_host_registrator
    from svcctl.zk.tls import read_cert

    layout = settings.layout
    if layout is None or project_mode(settings) != SECURE:
        raise BadInputError(
            f"project {settings.project} has no secured cluster over hosts",
            "`svcctl cluster up --hosts CTX1,CTX2,CTX3 --secure` starts one; on one engine `svcctl cluster up "
            "--secure --rotate` remakes the PKI",
        )
    member = next((m for m in layout.hosts if m.context == host), None)
    if member is None:
        raise BadInputError(
            f"{host} is not a host of project {settings.project}'s cluster",
            f"name one of {', '.join(layout.contexts())}",
        )
    who = reissue_host_registrator(project_pki(settings), host)
    on_progress(f"issued a new key for {read_cert(who.cert).subject}; shipping it to {host}")
    ship_pki(settings, member, ("registrator",))
    _compose_up(settings, layout, member, True, list(REGISTRATORS_PER_HOST))
    return read_cert(who.cert).subject


def registrator_rows(settings: Settings, states: dict[str, dict[str, str]], zk_reachable: bool) -> list[RegistratorRow]:
    """Per host, its registrator containers joined with their election nodes by id."""
    from svcctl.ensemble.status import join_registrators

    layout = settings.layout
    assert layout is not None
    names = [name for member in layout.hosts for name in registrator_containers(member)]
    merged = {name: state for member in layout.hosts for name, state in states.get(member.context, {}).items()}
    return join_registrators(settings, names, merged, zk_reachable)


def member_containers(settings: Settings, layout: ClusterLayout) -> dict[ZkHost, str]:
    """The container behind each member, on its host's engine."""
    return {m.zk_host: member_container(settings, m) for m in layout.hosts}


def member_engines(layout: ClusterLayout) -> dict[ZkHost, EngineEndpoint]:
    return {m.zk_host: m.endpoint for m in layout.hosts}


@dataclass(frozen=True)
class HostsEnsemble:
    """The project's cluster over Docker hosts: `contexts` for one to start (none: the recorded
    layout's). ensemble.current chooses it."""

    settings: Settings
    contexts: tuple[str, ...] = ()

    def _contexts(self) -> list[str]:
        if self.contexts:
            return list(self.contexts)
        assert self.settings.layout is not None
        return self.settings.layout.contexts()

    def _layout(self) -> ClusterLayout:
        """The recorded layout, else the one `up` would record."""
        if self.settings.layout is not None:
            return self.settings.layout
        return plan_layout(self.settings.project, self._contexts(), self.settings.docker_env())

    def member_containers(self) -> dict[ZkHost, str]:
        return member_containers(self.settings, self._layout())

    def up(
        self, policy: SecurityPolicy, timeout: float = 120, on_progress: Progress = no_progress
    ) -> tuple[Settings, list[MemberStatus]]:
        """Each host's member and registrators started (Compose leaves running ones alone), the
        layout recorded, then the quorum waited for. Secured: the PKI (made once) completed with
        each host's part and shipped to it, the members started alone, the tree made the admin's
        with its final ACLs (secure.secure_tree), and only then the registrators. Returns the
        settings with the recorded layout (its members the connection string) and the members."""
        if policy.rotates_pki:
            raise BadInputError(
                "--rotate remakes the PKI of a secured cluster on one engine",
                "over hosts, `svcctl pki rotate --host NAME` re-issues one host's registrator identity",
            )
        from svcctl.security.mode import SECURE, record_mode

        settings = self.settings
        contexts = self._contexts()
        secure = policy.secured
        require_compose()
        layout = plan_layout(settings.project, contexts, settings.docker_env())
        if settings.layout is not None and settings.layout.contexts() != layout.contexts():
            raise ConflictError(
                f"the cluster of project {settings.project} already runs on {', '.join(settings.layout.contexts())}",
                "`svcctl cluster down` first, or run `svcctl cluster up` without --hosts to start it again",
            )
        wanted = policy.mode
        current = existing_mode(settings, [member.endpoint for member in layout.hosts])
        if current is not None and current != wanted:
            # `cluster down --volumes` reaches the hosts only through a recorded layout.
            first = (
                ""
                if settings.layout is not None
                else f"`svcctl cluster up --hosts {','.join(contexts)}{' --secure' if current == SECURE else ''}`, "
            )
            raise ConflictError(
                f"project {settings.project}'s cluster over hosts is {mode_name(current)}; it cannot become "
                f"{mode_name(wanted)} in place",
                f"remove it with its data first: {first}`svcctl cluster down --volumes`, then `svcctl cluster up "
                f"--hosts {','.join(contexts)}{' --secure' if secure else ''}`",
            )
        if secure:
            from svcctl.security.pki import ensure_host_bundles, ensure_pki, hand_over, pki_dir

            pki, done = ensure_pki(pki_dir(settings.state_path()))
            if done:
                on_progress(f"PKI {done} under {pki.root} (give {pki.ca} to your own consumers)")
            issued = ensure_host_bundles(pki, host_bundles(layout))
            if issued:
                on_progress(f"issued the member certificates and registrator identities of {', '.join(issued)}")
            hand_over(pki, settings.container_uid)  # the gateway's reader, mounted on this engine
        record_mode(settings.state_path(), settings.project, wanted, over_hosts=True)
        # Recorded before anything starts: a start that fails half-way is still found by `cluster down`.
        save_layout(settings.state_path(), layout)
        # What the status after it reads the registrators from.
        settings = replace(settings, layout=layout, zk=layout.connect_string())
        started = HostsEnsemble(settings)
        if secure:
            for member in layout.hosts:
                on_progress(
                    f"{member.context} ({member.address}): zoo{member.member_id} (TLS+ACL), its part of the PKI shipped"
                )
                ship_pki(settings, member)
                _compose_up(settings, layout, member, secure, [MEMBER_SERVICE])
            started.wait_for_quorum(timeout, on_progress)
            writers = []
            for member in layout.hosts:
                from svcctl.docker.engine import client_for, engine_id
                from svcctl.zk.tls import read_cert

                identity = read_cert(pki.host_registrator(member.context).cert).subject
                writers.append(
                    RegistryWriter(
                        identity, engine_id(client_for(member.endpoint)), frozenset(registrator_containers(member))
                    )
                )
            secure_tree(settings, writers, on_progress)
        for member in layout.hosts:
            on_progress(
                f"{member.context} ({member.address}): zoo{member.member_id}, "
                f"{', '.join(registrator_containers(member))}"
                + (" (identity CN=svcctl-registrator@" + member.context + ")" if secure else "")
            )
            _compose_up(settings, layout, member, secure)
        return settings, started.wait_for_quorum(timeout, on_progress)

    def wait_for_quorum(self, timeout: float = 120, on_progress: Progress = no_progress) -> list[MemberStatus]:
        layout = self._layout()
        stats = wait_for_quorum(
            self.settings, member_containers(self.settings, layout), member_engines(layout), timeout, on_progress
        )
        return self.status(stats)

    def status(self, stats: list[ServerStats] | None = None) -> list[MemberStatus]:
        """Each member's container state on its host ("host down" when its engine does not
        answer) and what it answers (`stats`: already asked)."""
        settings = self.settings
        hosts = settings.ensemble_hosts
        if stats is None:
            tls = four_letter_tls(settings)
            stats = [server_stats(h.host, h.port, tls=tls) for h in hosts]
        layout = settings.layout
        assert layout is not None
        containers = member_containers(settings, layout)
        per_host = host_states(settings)
        return [
            MemberStatus(str(h), containers[h], per_host[m.context].get(containers[h], "absent"), s, m.context)
            for h, s, m in zip(hosts, stats, layout.hosts, strict=True)
        ]

    def registrators(self, zk_reachable: bool) -> list[RegistratorRow]:
        """Per host, its registrators, ZooKeeper asked only when `zk_reachable`."""
        return registrator_rows(self.settings, host_states(self.settings), zk_reachable)

    def down(self, volumes: bool = False, on_progress: Progress = no_progress) -> Settings:
        """Remove the cluster's containers (and its part of the PKI) from every host that
        answers (the others' go with `svcctl hosts down`), then forget the layout. Returns the
        settings of what follows: without a layout."""
        from svcctl.docker.engine import client_for
        from svcctl.security.mode import SECURE, forget_mode, project_mode

        settings = self.settings
        layout = settings.layout
        assert layout is not None
        require_compose()
        secure = project_mode(settings) == SECURE
        unreachable = []
        for member in layout.hosts:
            try:
                client_for(member.endpoint, timeout=3)
            except DockerUnavailableError:
                on_progress(f"{member.context}: the engine does not answer; skipped")
                unreachable.append(member.context)
                continue
            on_progress(
                f"{member.context}: removing zoo{member.member_id} and its registrators"
                + (" and volumes" if volumes else "")
            )
            compose = host_compose_client(settings, layout, member, secure)
            run_compose(
                f"cluster down on {member.context}",
                lambda compose=compose: compose.compose.down(volumes=volumes, quiet=True, timeout=10),
            )
            if secure:
                remove_pki_volumes(settings, member)
        remove_layout(settings.state_path(), settings.project)
        if volumes and not unreachable:  # data left on a host that did not answer keeps its mode
            forget_mode(settings.state_path(), settings.project, over_hosts=True)
        return replace(settings, layout=None)
