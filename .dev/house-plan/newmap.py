"""Proposed homes: old module -> default new module, and per-symbol overrides."""
DEFAULT = {
    "svcctl": "svcctl",
    "svcctl.errors": "svcctl.errors",
    "svcctl.progress": "svcctl.progress",
    "svcctl.polling": "svcctl.wait",
    "svcctl.files": "svcctl.files",
    "svcctl.network": "svcctl.net",
    "svcctl.config": "svcctl.config.settings",
    "svcctl.layout": "svcctl.config.layout",
    "svcctl.engine": "svcctl.docker.engine",
    "svcctl.compose": "svcctl.ensemble.project",
    "svcctl.images": "svcctl.docker.images",
    "svcctl.registration": "svcctl.registry.naming",
    "svcctl.zk": "svcctl.zk",
    "svcctl.zk.client": "svcctl.zk.client",
    "svcctl.zk.fourletter": "svcctl.zk.fourletter",
    "svcctl.zk.ops": "svcctl.zk.ops",
    "svcctl.zk.tree": "svcctl.zk.tree",
    "svcctl.zk.watch": "svcctl.zk.watch",
    "svcctl.zk.tls": "svcctl.zk.tls",
    "svcctl.zk.prune": "svcctl.registry.prune",
    "svcctl.pki": "svcctl.security.pki",
    "svcctl.security": "svcctl.security.mode",
    "svcctl.dockerproxy": "svcctl.security.dockerproxy",
    "svcctl.registrator": "svcctl.registrator",
    "svcctl.registrator.daemon": "svcctl.registrator.daemon",
    "svcctl.registrator.drain": "svcctl.registrator.drain",
    "svcctl.registrator.events": "svcctl.registrator.events",
    "svcctl.registrator.image": "svcctl.toolkit.wheels",
    "svcctl.registrator.inspector": "svcctl.registrator.inspector",
    "svcctl.registrator.leadership": "svcctl.registrator.leadership",
    "svcctl.registrator.logfmt": "svcctl.registrator.logfmt",
    "svcctl.registrator.reconciler": "svcctl.registrator.reconciler",
    "svcctl.registrator.registry": "svcctl.registrator.registry",
    "svcctl.registrator.session": "svcctl.registrator.session",
    "svcctl.registrator.signals": "svcctl.registrator.signals",
    "svcctl.registrator.status": "svcctl.registrator.status",
    "svcctl.registrator.writer": "svcctl.registrator.writer",
    "svcctl.registrator_compose": "svcctl.ensemble.project",
    "svcctl.cluster": "svcctl.ensemble.local",
    "svcctl.cluster_hosts": "svcctl.ensemble.hosts",
    "svcctl.gateway": "svcctl.consumer.gateway",
    "svcctl.gateway.controller": "svcctl.consumer.gateway.controller",
    "svcctl.gateway.haproxy": "svcctl.consumer.gateway.haproxy",
    "svcctl.gateway.stack": "svcctl.ensemble.gateway",
    "svcctl.gateway.image": "svcctl.toolkit.images",
    "svcctl.discovery": "svcctl.consumer.cache",
    "svcctl.samples": "svcctl.walkthrough.samples",
    "svcctl.services": "svcctl.walkthrough.services",
    "svcctl.scenarios": "svcctl.walkthrough.scenarios",
    "svcctl.faults": "svcctl.walkthrough.faults",
    "svcctl.demo": "svcctl.walkthrough.demo",
    "svcctl.bootstrap": "svcctl.toolkit.doctor",
    "svcctl.hosts": "svcctl.toolkit.hosts",
}
S = {}
def put(old, new, *names):
    for n in names: S[(old, n)] = new
put("svcctl.config", "svcctl.config.addresses", "ZkHost", "parse_zk_hosts", "format_zk_hosts", "RegistryUri", "parse_registry_uri", "parse_ip", "ZK_CONNECT_HINT", "_HOST_RE")
put("svcctl.config", "svcctl.config.paths", "PROJECT_PARTS", "INSTALLED_PROJECT", "_looks_like_project", "is_checkout", "find_project_dir", "state_dir")
put("svcctl.engine", "svcctl.docker.runner", "run_docker_cli")
put("svcctl.compose", "svcctl.docker.compose", "compose_error", "require_compose")
put("svcctl.images", "svcctl.toolkit.images", "IMAGES", "register_image", "known_images", "_load_optional_specs", "select_images", "build_images")
put("svcctl.registration", "svcctl.registry.payload", "payload", "encode_payload", "decode_payload", "_int", "RegistrationPayload", "comparable", "payload_engine")
put("svcctl.registration", "svcctl.registry.plan", "ActualNode", "Op", "plan", "desired_map")
put("svcctl.registration", "svcctl.docker.labels", "COMPOSE_PROJECT_LABEL", "COMPOSE_SERVICE_LABEL")
put("svcctl.registrator", "svcctl.registry.election", "ELECTION_ROOT", "LOCK_MARKER", "election_path", "contenders_in_order")
put("svcctl.registrator.status", "svcctl.ensemble.status", "RegistratorRow", "cluster_registrators", "join_registrators")
put("svcctl.zk.tree", "svcctl.zk.znode", "decode_json")
put("svcctl.zk.tree", "svcctl.registry.payload", "payload_summary")
put("svcctl.zk.ops", "svcctl.zk.znode", "NodeStat", "node_stat", "NodeInfo")
put("svcctl.zk.watch", "svcctl.cli.zk", "describe")
put("svcctl.zk.prune", "svcctl.zk.znode", "NodeSnapshot")
put("svcctl.zk.prune", "svcctl.zk.ops", "read_snapshot", "_outcome")
put("svcctl.zk.prune", "svcctl.docker.engine", "running_containers")
put("svcctl.zk.prune", "svcctl.net", "probe_refused")
put("svcctl.pki", "svcctl.zk.tls", "read_cert", "CertInfo")
put("svcctl.security", "svcctl.security.client", "READER", "ADMIN", "REGISTRATOR", "explicit_tls", "client_tls", "ensemble_tls")
put("svcctl.cluster", "svcctl.ensemble.members", "NodeStatus", "QUORUM_MODES", "quorum_reached", "HEALTHY", "DEGRADED", "NO_QUORUM", "ensemble_health", "require_healthy", "SERVING_MODES")
put("svcctl.cluster", "svcctl.ensemble.secure", "foreign_lock_reason", "RegistryWriter", "local_writers", "secure_tree", "_same_acl", "_acl_text")
put("svcctl.cluster", "svcctl.net", "port_is_free")
put("svcctl.cluster", "svcctl.docker.containers", "container_states", "container_log_tail")
put("svcctl.cluster_hosts", "svcctl.ensemble.status", "registrator_rows")
put("svcctl.gateway.controller", "svcctl.net", "free_port", "check_listen")
put("svcctl.discovery", "svcctl.consumer.call", "CallResult", "http_get", "get_instance", "call_once", "call_service")
put("svcctl.services", "svcctl.docker.containers", "ContainerView", "container_view", "listed_view", "engine_containers", "_CONFIGS")
# module-level register_image(...) calls move to the catalog
REGISTER = "svcctl.toolkit.images"

put("svcctl.config", "svcctl.config.defaults", "DEFAULT_PROJECT", "DEFAULT_ZK_PORTS", "DEFAULT_ZK_IMAGE", "DEFAULT_REGISTRATOR_IMAGE", "DEFAULT_GATEWAY_IMAGE",
    "DEFAULT_DIND_IMAGE", "DEFAULT_DOCKER_PROXY_IMAGE", "DEFAULT_BASE", "DEFAULT_DOCKERD_LOG", "DEFAULT_CONTAINER_UID")
put("svcctl.config", "svcctl.config.environment", "_env")
put("svcctl.cluster", "svcctl.ensemble.current", "up", "down", "status", "member_containers")
put("svcctl.cluster", "svcctl.ensemble.quorum", "wait_for_quorum", "four_letter_tls")
