"""The container, volume and image labels svcctl reads and writes, in one place: Compose's own,
by which a container is known as a project's service, and svcctl's (`io.svcctl.*`), by which
cleanup finds exactly what svcctl made and nothing else."""

from __future__ import annotations

# Compose's labels on every container it starts.
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_NUMBER = "com.docker.compose.container-number"

# Swarm's: a stack's services and their task containers carry the namespace (the stack's name);
# every task container its service's name and its task's name, <service>.<slot or node id>.<id>.
STACK_NAMESPACE = "com.docker.stack.namespace"
SWARM_SERVICE_NAME = "com.docker.swarm.service.name"
SWARM_TASK_NAME = "com.docker.swarm.task.name"

# On a named svcctl project's workload ("true"): its own registrators register it, so the default
# project's, which register every other container of the engine, leave it out.
SCOPED = "io.svcctl.scoped"
# A simulated host (its container and volume): the project, and which host of it.
HOSTS_PROJECT = "io.svcctl.hosts.project"
HOSTS_INDEX = "io.svcctl.hosts.index"
HOSTS_TLS = "io.svcctl.hosts.tls"  # absent: a host started by an svcctl whose engines were plain TCP
# A swarm node: the simulated host it is (placement constraints pin services with it).
SWARM_HOST = "io.svcctl.host"
# The volumes that carry a host's part of the PKI.
PKI_PROJECT = "io.svcctl.pki.project"
# The gateway container's listening address and ports (compose/gateway.yml writes them), read
# back by `gateway status`: `svcctl.gateway.host`, `.port`, `.stats-port`.
GATEWAY_PREFIX = "svcctl.gateway."
# The recipe of a base image svcctl bootstrapped (debootstrap), so a changed recipe is rebuilt.
BASE_RECIPE = "io.svcctl.base-recipe"
