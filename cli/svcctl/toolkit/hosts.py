"""Simulated Docker hosts on this machine (`svcctl hosts up|ls|stop|start|down`): N Docker
engines, each in its own container of the `svcctl/dind` image, on one private bridge network,
each with its own fixed address and a Docker context, the project's images loaded into each.

Each engine listens on TCP with Docker's TLS and verifies its clients (`dockerd --tlsverify`): a
plain TCP engine is root on that engine, and so on the keys shipped to it, for any local process.
The engines' CA, their server certificates and svcctl's client certificate live in the state
directory (pki.engine_pki_dir); the contexts hold the client certificate.

Everything is named from the project (containers and contexts `<project>-host<i>`, network
`<project>-hosts`, volumes `<project>-host<i>-docker`) and the network's subnet is derived from
the project's name, so two projects on one engine never touch each other's hosts."""

from __future__ import annotations

import hashlib
import ipaddress
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from svcctl.config.engines import EngineEndpoint
from svcctl.config.settings import Settings, dind_image
from svcctl.docker import labels
from svcctl.docker.engine import client_for
from svcctl.errors import (
    BadInputError,
    ConflictError,
    DockerUnavailableError,
    NotFoundError,
    SvcctlError,
    WaitTimeoutError,
)
from svcctl.progress import Progress, no_progress
from svcctl.wait import poll_until

if TYPE_CHECKING:
    import docker

    from svcctl.toolkit.swarm import SwarmHost

ENGINE_PORT = 2376  # Docker's port for TLS
ENGINE_CERTS = "/certs"  # where the entrypoint finds the engine's ca.pem, cert.pem, key.pem
MAX_HOSTS = 9
# Subnets are /24s of 10.192.0.0/12, picked by the project's name (then the next free one).
SUBNET_POOL = ipaddress.ip_network("10.192.0.0/12")
FIRST_HOST_OFFSET = 10  # host i gets .10+i: .1 is the bridge's gateway
ENGINE_START_TIMEOUT = 60.0
HOST_RUN_OPTIONS = {  # python-on-whales' container.run arguments
    # No --privileged here (the bounding set lacks CAP_SYS_RESOURCE): everything else it gives.
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_options": ["seccomp=unconfined", "apparmor=unconfined"],
    "init": True,
}
# What a failed docker command during `hosts up` or `hosts down` tells the user to do.
HOSTS_FIX = "see the message; `svcctl hosts down` removes a half-made set of hosts"
CONTEXT_DESCRIPTION = "svcctl simulated host"


def host_name(project: str, index: int) -> str:
    return f"{project}-host{index}"


def network_name(project: str) -> str:
    return f"{project}-hosts"


def volume_name(project: str, index: int) -> str:
    return f"{project}-host{index}-docker"


def engine_url(address: str) -> str:
    return f"tcp://{address}:{ENGINE_PORT}"


def candidate_subnets(project: str) -> Iterator[ipaddress.IPv4Network]:
    """Every /24 of the pool, starting at the one the project's name hashes to: the same project
    gets the same subnet run after run, two projects (almost always) different ones, and a taken
    one is skipped."""
    subnets = list(SUBNET_POOL.subnets(new_prefix=24))
    start = int(hashlib.sha256(project.encode()).hexdigest(), 16) % len(subnets)
    for k in range(len(subnets)):
        yield subnets[(start + k) % len(subnets)]  # type: ignore[misc]


def host_address(subnet: ipaddress.IPv4Network, index: int) -> str:
    return str(subnet.network_address + FIRST_HOST_OFFSET + index)


@dataclass
class HostInfo:
    name: str  # container and Docker context
    index: int
    address: str
    state: str  # the container's state
    engine: str  # tcp://ADDR:2376 (TLS, client certificate required)
    engine_version: str | None = None  # None: the engine does not answer
    containers: int | None = None  # running containers on that engine
    images: int | None = None
    # In a swarm: manager or worker (the manager that leads raft: "leader"), and the node's
    # state as the managers see it (ready, down); None: not in a swarm (or nobody answers).
    swarm_role: str | None = None
    swarm_state: str | None = None
    swarm_local: str | None = field(default=None, repr=False)  # the engine's own LocalNodeState

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("swarm_local")
        return out


# --- reading -------------------------------------------------------------------------------------


def host_containers(client: docker.DockerClient, project: str) -> list:
    found = client.containers.list(all=True, filters={"label": f"{labels.HOSTS_PROJECT}={project}"})
    return sorted(found, key=lambda c: int(c.labels.get(labels.HOSTS_INDEX, "0")))


def _address_of(container, project: str) -> str:
    """The host's fixed address (kept while it is stopped, unlike the live IPAddress)."""
    net = (container.attrs["NetworkSettings"]["Networks"] or {}).get(network_name(project)) or {}
    return (net.get("IPAMConfig") or {}).get("IPv4Address") or net.get("IPAddress") or ""


def engine_pki(settings: Settings):
    from svcctl.security.pki import EnginePki, engine_pki_dir

    return EnginePki(engine_pki_dir(settings.state_path(), settings.project))


def host_endpoint(settings: Settings, name: str, address: str) -> EngineEndpoint:
    """Host `name`'s engine as svcctl reaches it: TCP with svcctl's client certificate."""
    return EngineEndpoint(engine_url(address), name, str(engine_pki(settings).client_dir))


def _engine_facts(info: HostInfo, endpoint: EngineEndpoint) -> HostInfo:
    if info.state != "running" or not info.address:
        return info
    try:
        inner = client_for(endpoint, timeout=3)
        info.engine_version = str(inner.version().get("Version"))
        facts = inner.info()
        info.containers, info.images = facts.get("ContainersRunning"), facts.get("Images")
        info.swarm_local = (facts.get("Swarm") or {}).get("LocalNodeState")
    except Exception:  # noqa: BLE001 - not answering, or answering badly: shown as "-" by ls
        pass
    return info


def ls(settings: Settings) -> list[HostInfo]:
    """The project's hosts, with what each engine says of itself (asked in parallel)."""
    from svcctl.docker.engine import docker_client

    client = docker_client(settings.engine)
    infos = []
    for container in host_containers(client, settings.project):
        address = _address_of(container, settings.project)
        infos.append(
            HostInfo(
                container.name,
                int(container.labels.get(labels.HOSTS_INDEX, "0")),
                address,
                container.status,
                engine_url(address),
            )
        )
    with ThreadPoolExecutor(max_workers=max(1, len(infos))) as pool:
        infos = list(
            pool.map(lambda info: _engine_facts(info, host_endpoint(settings, info.name, info.address)), infos)
        )
    if any(info.swarm_local == "active" for info in infos):
        _swarm_facts(settings, infos)
    return infos


def swarm_hosts(settings: Settings, infos: list[HostInfo]) -> list[SwarmHost]:
    """The running hosts as swarm members, host 1 first (the one that initialises it)."""
    from svcctl.toolkit.swarm import SwarmHost

    running = sorted((i for i in infos if i.state == "running" and i.address), key=lambda i: i.index)
    return [SwarmHost(i.name, i.address, host_endpoint(settings, i.name, i.address)) for i in running]


def _swarm_facts(settings: Settings, infos: list[HostInfo]) -> None:
    from svcctl.toolkit.swarm import nodes_seen

    seen = {node.hostname: node for node in nodes_seen(swarm_hosts(settings, infos)) or []}
    for info in infos:
        node = seen.get(info.name)
        if node is not None:
            info.swarm_role = "leader" if node.leader else node.role
            info.swarm_state = node.state


def form_swarm(settings: Settings, on_progress: Progress = no_progress) -> list[HostInfo]:
    """The project's running hosts joined into one swarm (see svcctl.toolkit.swarm); twice is
    harmless. Returns the hosts with their swarm roles."""
    from svcctl.toolkit.swarm import form

    infos = ls(settings)
    nodes = form(swarm_hosts(settings, infos), on_progress)
    on_progress(f"swarm: {len(nodes)} nodes, {sum(n.role == 'manager' for n in nodes)} managers")
    return ls(settings)


# --- up --------------------------------------------------------------------------------------------


def ensure_network(client: docker.DockerClient, project: str, on_progress: Progress) -> ipaddress.IPv4Network:
    """The hosts' bridge network: reused when it exists, else created on the project's subnet
    (or the next one no other network holds)."""
    from svcctl.docker.objects import create_bridge_network, or_none

    name = network_name(project)
    network = or_none(client.networks.get, name)
    if network is not None:
        return ipaddress.ip_network(network.attrs["IPAM"]["Config"][0]["Subnet"])
    taken = []
    for net in client.networks.list():
        for config in (net.attrs.get("IPAM") or {}).get("Config") or []:
            if config.get("Subnet"):
                taken.append(ipaddress.ip_network(config["Subnet"], strict=False))
    for subnet in candidate_subnets(project):
        if any(subnet.overlaps(other) for other in taken if other.version == 4):
            continue
        on_progress(f"network {name} on {subnet}")
        create_bridge_network(client, name, subnet, labels={labels.HOSTS_PROJECT: project})
        return subnet  # type: ignore[return-value]
    raise ConflictError(
        "no free /24 left in 10.192.0.0/12 for the hosts' network",
        "remove unused Docker networks (`docker network ls`)",
    )


def _run_host(engine: EngineEndpoint, project: str, index: int, subnet: ipaddress.IPv4Network, certs: Path) -> None:
    from svcctl.docker.launch import create_volume, run_detached

    name = host_name(project, index)
    volume = volume_name(project, index)
    # Created first, with the project's label, so `hosts down` finds exactly its own volumes.
    create_volume(engine, volume, {labels.HOSTS_PROJECT: project}, f"creating volume {volume}", HOSTS_FIX)
    run_detached(
        engine,
        dind_image(),
        f"starting host {name}",
        HOSTS_FIX,
        name=name,
        hostname=name,
        **HOST_RUN_OPTIONS,
        networks=[network_name(project)],
        ip=host_address(subnet, index),
        volumes=[(volume, "/var/lib/docker"), (certs, ENGINE_CERTS, "ro")],
        labels={labels.HOSTS_PROJECT: project, labels.HOSTS_INDEX: str(index), labels.HOSTS_TLS: "verify"},
        stop_timeout=30,  # a graceful stop needs the inner containers' shutdown first
    )


def ensure_context(endpoint: EngineEndpoint, engine: EngineEndpoint) -> None:
    """The host's Docker context, created or pointed at its engine again, with svcctl's client
    certificate (the docker CLI copies it into its context store); the docker CLI runs as for
    the command's `engine`."""
    from svcctl.docker.contexts import create_or_update_context

    create_or_update_context(endpoint.context or "", CONTEXT_DESCRIPTION, endpoint, engine, HOSTS_FIX)


def wait_engine(endpoint: EngineEndpoint, timeout: float = ENGINE_START_TIMEOUT, container=None) -> docker.DockerClient:
    """The host's engine once it answers; fails at once (with its log) if the host exits."""
    name = endpoint.context

    def engine() -> docker.DockerClient | None:
        try:
            return client_for(endpoint, timeout=5)
        except DockerUnavailableError:
            if container is not None:
                container.reload()
                if container.status != "running":
                    raise SvcctlError(
                        f"host {name} exited ({container.status}) before its engine answered",
                        "read its log below; `svcctl hosts down` then `svcctl hosts up` starts over",
                        details=container.logs(tail=15).decode(errors="replace"),
                    ) from None
            return None

    client = poll_until(engine, lambda found: found is not None, time.monotonic() + timeout, interval=0.3)
    if client is None:
        raise WaitTimeoutError(
            f"the engine of host {name} does not answer at {endpoint.host} after {timeout:.0f}s",
            f"read `docker logs {name}`; `svcctl hosts down` then `svcctl hosts up` starts over",
        )
    return client


def project_images(settings: Settings, names: list[str] | None) -> dict[str, str]:
    """name -> tag of the images to load into the hosts (default: every image of the project
    but the hosts' own)."""
    from svcctl.toolkit.images import known_images

    available = {n: s.tag for n, s in known_images(settings.project_path()).items() if n != "dind"}
    if not names:
        return available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise BadInputError(f"unknown image {', '.join(unknown)}", f"choose from: {', '.join(available)}")
    return {n: available[n] for n in names}


def load_images(
    engine: EngineEndpoint,
    client: docker.DockerClient,
    hosts: dict[str, EngineEndpoint],
    tags: list[str],
    on_progress: Progress,
    tmp_dir: str = "/var/tmp",
) -> dict[str, list[str]]:
    """Every host gets the tags it lacks (or holds an older build of): ONE `docker save` of all
    that is missing anywhere on `engine` (whose client is `client`), loaded into those hosts in
    parallel. Returns host -> tags loaded."""
    from svcctl.docker.images import load_archive, save_images
    from svcctl.docker.objects import or_none

    wanted: dict[str, str] = {}
    for tag in tags:
        image = or_none(client.images.get, tag)
        if image is None:
            raise NotFoundError(f"image {tag} is not built", "build it with `svcctl build` first")
        wanted[tag] = image.id
    missing: dict[str, list[str]] = {}
    for name, endpoint in hosts.items():
        inner = client_for(endpoint)
        for tag, image_id in wanted.items():
            held = or_none(inner.images.get, tag)
            if held is None or held.id != image_id:
                missing.setdefault(name, []).append(tag)
    if not missing:
        on_progress("images: every host has them already")
        return {}
    union = sorted({tag for tags_ in missing.values() for tag in tags_})
    with tempfile.TemporaryDirectory(prefix="svcctl-hosts-", dir=tmp_dir) as tmp:
        archive = Path(tmp) / "images.tar"
        on_progress(f"images: saving {', '.join(union)}")
        save_images(engine, union, archive, HOSTS_FIX)
        on_progress(
            f"images: loading {archive.stat().st_size // 2**20} MiB into {', '.join(sorted(missing))} in parallel"
        )
        # Each host's own engine, whatever the command's is.
        failed = load_archive({name: hosts[name] for name in missing}, archive)
        if failed:
            raise SvcctlError(
                f"loading images into the hosts failed ({'; '.join(f'{n}: {why}' for n, why in failed.items())})",
                "is there disk space? `df -h /var/lib/docker`",
            )
    return missing


def up(
    settings: Settings, count: int = 3, images: list[str] | None = None, on_progress: Progress = no_progress
) -> list[HostInfo]:
    """Hosts 1..count running, each with its context and the project's images. Hosts already
    running are left alone (unless their engine certificate is new: restarted to read it; or
    they were started with a plain TCP engine: re-created on their volume); stopped ones are
    started; twice is harmless."""
    from svcctl.docker.engine import docker_client
    from svcctl.docker.images import image_exists
    from svcctl.security.pki import ensure_engine_pki
    from svcctl.toolkit.images import build_images

    if not 1 <= count <= MAX_HOSTS:
        raise BadInputError(f"cannot start {count} hosts", f"give 1 to {MAX_HOSTS}")
    project = settings.project
    tags = list(project_images(settings, images).values())
    client = docker_client(settings.engine, timeout=600)
    if not image_exists(client, dind_image()):
        on_progress(f"building {dind_image()}")
        build_images(settings, ["dind"], on_progress)
    subnet = ensure_network(client, project, on_progress)
    existing = {int(c.labels.get(labels.HOSTS_INDEX, "0")): c for c in host_containers(client, project)}
    # Hosts beyond `count` that an older svcctl started with a plain TCP engine are secured too.
    indexes = sorted(
        {*range(1, count + 1), *(i for i, c in existing.items() if i > 0 and labels.HOSTS_TLS not in c.labels)}
    )
    pki, reissued = ensure_engine_pki(
        engine_pki(settings).root, {host_name(project, i): host_address(subnet, i) for i in indexes}
    )
    for index in indexes:
        name = host_name(project, index)
        container = existing.get(index)
        if container is not None and labels.HOSTS_TLS not in container.labels:
            on_progress(
                f"{name}: its engine was plain TCP; re-created with TLS (its volume, images and containers kept)"
            )
            container.remove(force=True)
            container = None
        if container is None:
            on_progress(f"{name}: starting at {host_address(subnet, index)} (engine TLS-verified)")
            _run_host(settings.engine, project, index, subnet, pki.server_dir(name))
        elif container.status != "running":
            on_progress(f"{name}: starting again")
            container.start()
        elif name in reissued:
            on_progress(f"{name}: a new engine certificate; restarting its engine to read it")
            container.restart(timeout=30)
    engines: dict[str, EngineEndpoint] = {}
    for index in indexes:
        endpoint = host_endpoint(settings, host_name(project, index), host_address(subnet, index))
        wait_engine(endpoint, container=client.containers.get(endpoint.context))
        ensure_context(endpoint, settings.engine)
        engines[host_name(project, index)] = endpoint
    on_progress(f"engines answer: {', '.join(engines)}")
    _follow_engines(settings, engines)
    load_images(settings.engine, client, engines, tags, on_progress, settings.hosts_tmp)
    return ls(settings)


def _follow_engines(settings: Settings, engines: dict[str, EngineEndpoint]) -> None:
    """A cluster recorded on these hosts reaches their engines where they are now (a layout an
    older svcctl recorded names the plain tcp://ADDR:2375 and no TLS material)."""
    import dataclasses

    from svcctl.config.layout import load_layout, save_layout

    layout = load_layout(settings.state_path(), settings.project)
    if layout is None:
        return
    moved = tuple(
        dataclasses.replace(m, engine=engines[m.context].host, tls_dir=engines[m.context].tls_dir)
        if m.context in engines
        else m
        for m in layout.hosts
    )
    if moved != layout.hosts:
        save_layout(settings.state_path(), dataclasses.replace(layout, hosts=moved))


# --- a crash and a return -------------------------------------------------------------------------


def _host(client: docker.DockerClient, settings: Settings, name: str):
    for container in host_containers(client, settings.project):
        if container.name == name:
            return container
    known = ", ".join(c.name for c in host_containers(client, settings.project)) or "none (run `svcctl hosts up`)"
    raise NotFoundError(f"no host {name!r} in project {settings.project}", f"hosts: {known}")


def stop(settings: Settings, name: str, graceful: bool = False, on_progress: Progress = no_progress) -> None:
    """A host crash (the engine and everything on it killed at once), or with `graceful` a
    shutdown that stops the inner containers first."""
    from svcctl.docker.engine import docker_client

    container = _host(docker_client(settings.engine), settings, name)
    if container.status != "running":
        on_progress(f"{name} is not running ({container.status})")
        return
    if graceful:
        on_progress(f"{name}: stopping (inner containers first)")
        container.stop(timeout=30)
    else:
        on_progress(f"{name}: crashing (kill)")
        container.kill()


def start(settings: Settings, name: str, on_progress: Progress = no_progress) -> HostInfo:
    """The host back on the same address; its engine restarts the containers that have a
    restart policy (the cluster's member and registrators, the sample services)."""
    from svcctl.docker.engine import docker_client

    container = _host(docker_client(settings.engine), settings, name)
    if container.status != "running":
        on_progress(f"{name}: starting")
        container.start()
    container.reload()
    address = _address_of(container, settings.project)
    endpoint = host_endpoint(settings, name, address)
    wait_engine(endpoint, container=container)
    return _engine_facts(
        HostInfo(name, int(container.labels.get(labels.HOSTS_INDEX, "0")), address, "running", endpoint.host), endpoint
    )


# --- down --------------------------------------------------------------------------------------


@dataclass
class DownReport:
    containers: list[str]
    volumes: list[str]
    contexts: list[str]
    network: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def _remove_volume(volume, attempts: int = 30) -> None:
    """A volume is briefly "in use" (HTTP 409) after its container's forced removal returns."""
    from svcctl.docker.objects import remove

    remove(volume, attempts=attempts, force=True)


def down(settings: Settings, on_progress: Progress = no_progress) -> DownReport:
    """Remove the hosts with everything on them, their volumes, contexts, network and engine
    certificates, and the record of a cluster that ran on them."""
    import shutil

    from svcctl.config.layout import load_layout, remove_layout
    from svcctl.docker.contexts import remove_context
    from svcctl.docker.engine import docker_client
    from svcctl.docker.objects import or_none, remove
    from svcctl.security.mode import forget_mode

    project = settings.project
    client = docker_client(settings.engine, timeout=300)  # a loaded machine takes its time removing a host
    report = DownReport([], [], [], None)
    containers = host_containers(client, project)
    on_progress(f"removing {', '.join(c.name for c in containers) or 'no host'}")
    volumes = client.volumes.list(filters={"label": f"{labels.HOSTS_PROJECT}={project}"})
    # In parallel: each host takes its inner containers down and leaves a large volume behind.
    with ThreadPoolExecutor(max_workers=max(1, len(containers), len(volumes))) as pool:
        list(pool.map(lambda c: c.remove(force=True, v=True), containers))
        list(pool.map(_remove_volume, volumes))
    report.containers = [c.name for c in containers]
    report.volumes = [v.name for v in volumes]
    for index in range(1, MAX_HOSTS + 1):
        name = host_name(project, index)
        if remove_context(name, settings.engine, HOSTS_FIX):
            report.contexts.append(name)
    network = or_none(client.networks.get, network_name(project))
    if network is not None:
        remove(network)
        report.network = network_name(project)
    shutil.rmtree(engine_pki(settings).root, ignore_errors=True)
    recorded = load_layout(settings.state_path(), project)
    if recorded is not None and set(recorded.contexts()) <= set(report.contexts) | {c.name for c in containers}:
        remove_layout(settings.state_path(), project)
        forget_mode(settings.state_path(), project, over_hosts=True)  # its data went with the hosts' volumes
        on_progress("the cluster recorded on these hosts is gone with them")
    return report
