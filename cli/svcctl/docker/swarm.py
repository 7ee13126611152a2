"""Docker Swarm through the docker SDK (the docker CLI for `docker stack`, which the API does not
have): a node's swarm state, init, join, the join tokens, the nodes as a manager sees them, their
labels; stacks; replicated services publishing in host mode. Errors come back as svcctl's."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svcctl.docker.labels import STACK_NAMESPACE
from svcctl.docker.objects import api_failure

if TYPE_CHECKING:
    import docker

    from svcctl.config.engines import EngineEndpoint

SWARM_PORT = 2377  # raft and the control plane between managers; the joins go there


@dataclass(frozen=True)
class SwarmNode:
    """A node as a manager reports it."""

    node_id: str
    hostname: str
    role: str  # manager | worker
    leader: bool
    state: str  # ready | down | unknown | disconnected
    availability: str  # active | pause | drain
    address: str
    labels: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def membership(client: docker.DockerClient) -> tuple[str, bool]:
    """This engine's own view, from one `docker info`: its LocalNodeState (inactive, pending,
    active, error or locked) and whether it is a manager."""
    facts = client.info().get("Swarm") or {}
    return str(facts.get("LocalNodeState") or "inactive"), bool(facts.get("ControlAvailable"))


def init(client: docker.DockerClient, address: str) -> None:
    """A new swarm with this engine its first manager, advertising `address`."""
    import docker.errors

    try:
        client.swarm.init(advertise_addr=address, listen_addr=f"0.0.0.0:{SWARM_PORT}")
    except docker.errors.APIError as exc:
        raise api_failure(f"swarm init on {address}", exc, "`svcctl hosts down` and up again start clean") from exc


def join_tokens(client: docker.DockerClient) -> dict[str, str]:
    """{"Manager": …, "Worker": …} of the swarm this manager belongs to."""
    client.swarm.reload()
    return dict(client.swarm.attrs["JoinTokens"])


def join(client: docker.DockerClient, manager: str, token: str, address: str) -> None:
    """Join the swarm whose manager listens at `manager` (an address), advertising `address`."""
    import docker.errors

    try:
        client.swarm.join(
            remote_addrs=[f"{manager}:{SWARM_PORT}"],
            join_token=token,
            advertise_addr=address,
            listen_addr=f"0.0.0.0:{SWARM_PORT}",
        )
    except docker.errors.APIError as exc:
        raise api_failure(f"swarm join of {address}", exc, "`svcctl hosts down` and up again start clean") from exc


def nodes(client: docker.DockerClient) -> list[SwarmNode]:
    """Every node of the swarm, as this manager sees it."""
    found = []
    for node in client.nodes.list():
        attrs = node.attrs
        spec, status = attrs.get("Spec") or {}, attrs.get("Status") or {}
        found.append(
            SwarmNode(
                node_id=str(attrs.get("ID")),
                hostname=str((attrs.get("Description") or {}).get("Hostname") or ""),
                role=str(spec.get("Role") or "worker"),
                leader=bool((attrs.get("ManagerStatus") or {}).get("Leader")),
                state=str(status.get("State") or "unknown"),
                availability=str(spec.get("Availability") or "active"),
                address=str(status.get("Addr") or ""),
                labels=dict(spec.get("Labels") or {}),
            )
        )
    return sorted(found, key=lambda n: n.hostname)


def set_labels(client: docker.DockerClient, node_id: str, labels: dict[str, str]) -> None:
    """Add `labels` to the node's spec (the others kept), so that placement can pin a service."""
    node = client.nodes.get(node_id)
    spec = dict(node.attrs["Spec"])
    spec["Labels"] = {**(spec.get("Labels") or {}), **labels}
    node.update(spec)


def node_address(client: docker.DockerClient) -> str | None:
    """The address this engine's swarm node advertises to the others (`docker info`
    .Swarm.NodeAddr), None when the engine is in no swarm."""
    facts = client.info().get("Swarm") or {}
    if facts.get("LocalNodeState") != "active":
        return None
    return str(facts.get("NodeAddr") or "") or None


# --- stacks and services ---------------------------------------------------------------------------


def deploy_stack(engine: EngineEndpoint, name: str, stack_file: Path, fix: str) -> list[str]:
    """`docker stack deploy -c FILE NAME` on a manager: services in the file created or updated,
    the others left alone; images used as each node holds them (there is no registry to resolve
    a digest from). Returns what the command printed, a line per service. Through the runner:
    python-on-whales lets this command write to our own stdout (no --json output survives it)."""
    return swarm_cli(
        engine,
        ["stack", "deploy", "--resolve-image", "never", "-c", str(stack_file), name],
        f"stack deploy {name}",
        fix,
    )


def remove_stack(engine: EngineEndpoint, name: str, fix: str) -> list[str]:
    """`docker stack rm NAME`: every service of the namespace (their tasks stop on their own).
    A part of it already gone ("not found") counts as removed."""
    from svcctl.errors import SvcctlError

    try:
        return swarm_cli(engine, ["stack", "rm", name], f"stack rm {name}", fix)
    except SvcctlError as exc:
        if "not found" in str(exc.cause):
            return [str(exc.cause)]
        raise


def swarm_cli(engine: EngineEndpoint, args: list[str], action: str, fix: str) -> list[str]:
    """A docker command of a swarm manager (`stack …`, `service scale|update …`) through the
    runner; its output lines. python-on-whales lets these write to our own stdout."""
    from svcctl.docker.engine import run_docker_cli
    from svcctl.docker.whales import command_failed

    done = run_docker_cli(args, engine, timeout=120)
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise command_failed(action, output, f"docker exited {done.returncode}", fix)
    return output.splitlines()


def namespace_services(client: docker.DockerClient, namespace: str) -> dict[str, Any]:
    """Service name -> the docker SDK's Service of every service in the stack namespace."""
    return {s.name: s for s in client.services.list(filters={"label": f"{STACK_NAMESPACE}={namespace}"})}


@dataclass(frozen=True)
class ReplicatedService:
    """A replicated service whose tasks publish their ports on their own node (mode: host): the
    routing mesh needs IPVS, which not every kernel has."""

    name: str
    image: str
    namespace: str
    target_ports: tuple[int, ...]
    env: tuple[tuple[str, str], ...] = ()
    container_labels: tuple[tuple[str, str], ...] = ()
    stop_grace_seconds: int = 10


def create_service(client: docker.DockerClient, spec: ReplicatedService, replicas: int) -> None:
    """The service created with `replicas` tasks, each port published on the task's node at a
    port the node picks; a rolling update starts the new task before it stops the old one."""
    import docker.errors
    import docker.types

    ports = [{"Protocol": "tcp", "TargetPort": port, "PublishMode": "host"} for port in spec.target_ports]
    try:
        client.services.create(
            spec.image,
            name=spec.name,
            env=[f"{k}={v}" for k, v in spec.env],
            labels={STACK_NAMESPACE: spec.namespace},
            container_labels={STACK_NAMESPACE: spec.namespace, **dict(spec.container_labels)},
            endpoint_spec=docker.types.EndpointSpec(ports=ports),
            mode=docker.types.ServiceMode("replicated", replicas=replicas),
            update_config=docker.types.UpdateConfig(parallelism=1, order="start-first", delay=2_000_000_000),
            restart_policy=docker.types.RestartPolicy(condition="any", delay=1_000_000_000),
            stop_grace_period=spec.stop_grace_seconds * 1_000_000_000,
        )
    except docker.errors.APIError as exc:
        raise api_failure(f"service create {spec.name}", exc, "is the swarm up? `svcctl hosts ls`") from exc


def scale_service(engine: EngineEndpoint, name: str, replicas: int) -> None:
    """`docker service scale --detach NAME=N`: only the count changes. (The SDK's Service.scale
    re-sends a spec it fills in, which Swarm takes for a new task template: every task replaced.)"""
    swarm_cli(
        engine,
        ["service", "scale", "--detach", f"{name}={replicas}"],
        f"service scale {name}={replicas}",
        "`svcctl hosts ls`",
    )


def update_image(engine: EngineEndpoint, name: str, image: str) -> None:
    """A rolling update of the service to `image`, waited for (its update order is the service's)."""
    swarm_cli(
        engine, ["service", "update", "--quiet", "--image", image, name], f"service update {name}", "`svcctl hosts ls`"
    )


def remove_service(service: Any) -> None:
    from svcctl.docker.objects import or_none

    or_none(service.remove)


def service_replicas(service: Any) -> int:
    return int(((service.attrs.get("Spec") or {}).get("Mode") or {}).get("Replicated", {}).get("Replicas", 0))
