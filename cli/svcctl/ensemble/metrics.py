"""`svcctl metrics up|down|status`: a real Prometheus (Debian's, compose/metrics.yml, host
network) with a scrape configuration generated for the project's components: the registrators'
/metrics, HAProxy's built-in exporter and the gateway controller's metrics on the gateway's stats
port, and ZooKeeper through svcctl's `mntr` exporter (a container of the registrator image: the
members' jars carry no Prometheus provider)."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from dataclasses import asdict, dataclass, field

from svcctl.config.settings import Settings, prometheus_image, registrator_image
from svcctl.docker.compose import require_compose, run_compose
from svcctl.ensemble import gateway
from svcctl.ensemble.project import REGISTRATOR_SERVICES, compose_client, container_prefix
from svcctl.errors import BadInputError, ConflictError, NotFoundError, SvcctlError, WaitTimeoutError
from svcctl.files import atomic_write
from svcctl.net import answers_ok, direct_opener
from svcctl.progress import Progress, no_progress
from svcctl.wait import poll_until

PROMETHEUS, ZK_EXPORTER = "prometheus", "zk-exporter"
SERVICES = [PROMETHEUS, ZK_EXPORTER]
PORT_LABEL = "svcctl.metrics.port"
SCRAPE_INTERVAL = "5s"  # a demo's pace: a change shows within seconds


@dataclass
class Target:
    job: str
    instance: str
    health: str  # up, down, unknown (not scraped yet)
    last_error: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class MetricsInfo:
    container: str
    state: str
    port: int
    targets: list[Target] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def to_dict(self) -> dict:
        return {
            "container": self.container,
            "state": self.state,
            "port": self.port,
            "url": self.url,
            "targets": [t.to_dict() for t in self.targets],
        }


def container_name(settings: Settings, service: str = PROMETHEUS) -> str:
    return f"{container_prefix(settings.project)}{service}"


def scrape_config(settings: Settings, gateway_stats_port: int | None) -> dict:
    """The Prometheus configuration for this project (JSON is YAML: no YAML writer needed)."""
    prefix = container_prefix(settings.project)
    registrators = [
        {"targets": [f"127.0.0.1:{port}"], "labels": {"registrator": f"{prefix}{name}"}}
        for name, port in zip(REGISTRATOR_SERVICES, settings.registrator_metrics_ports, strict=True)
    ]
    jobs: list[dict] = [
        {"job_name": "registrator", "static_configs": registrators},
        {"job_name": "zookeeper", "static_configs": [{"targets": [f"127.0.0.1:{settings.zk_exporter_port}"]}]},
    ]
    if gateway_stats_port is not None:
        stats = [{"targets": [f"127.0.0.1:{gateway_stats_port}"]}]
        jobs.append({"job_name": "haproxy", "metrics_path": "/metrics", "static_configs": stats})
        jobs.append({"job_name": "gateway", "metrics_path": "/svcctl/metrics", "static_configs": stats})
    return {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "evaluation_interval": SCRAPE_INTERVAL,
            "external_labels": {"project": settings.project},
        },
        "scrape_configs": jobs,
    }


def api(port: int, path: str, params: dict[str, str] | None = None, timeout: float = 5.0) -> dict:
    """One call of Prometheus's HTTP API (…/api/v1/<path>); its `data`."""
    url = f"http://127.0.0.1:{port}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    try:
        with direct_opener().open(url, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise SvcctlError(f"Prometheus does not answer {url} ({exc})", "start it with `svcctl metrics up`") from exc
    if answer.get("status") != "success":
        raise SvcctlError(f"Prometheus refused {url}: {answer.get('error')}", "check the query")
    return answer["data"]


def query(port: int, promql: str) -> list[dict]:
    """An instant PromQL query: its vector (each: metric labels and [time, value])."""
    return api(port, "query", {"query": promql})["result"]


def targets(port: int) -> list[Target]:
    return sorted(
        (
            Target(
                t["labels"].get("job", t.get("scrapePool", "")),
                t["labels"].get("instance", ""),
                t.get("health", "unknown"),
                t.get("lastError", ""),
                {k: v for k, v in t["labels"].items() if k not in ("job", "instance")},
            )
            for t in api(port, "targets", {"state": "active"})["activeTargets"]
        ),
        key=lambda t: (t.job, t.instance),
    )


def _ready(port: int) -> bool:
    return answers_ok(f"http://127.0.0.1:{port}/-/ready")


def _container(settings: Settings, service: str = PROMETHEUS):
    from svcctl.docker.engine import docker_client
    from svcctl.docker.objects import or_none

    return or_none(docker_client(settings.engine).containers.get, container_name(settings, service))


def up(settings: Settings, port: int = 9090, timeout: float = 60.0, on_progress: Progress = no_progress) -> MetricsInfo:
    """Write the scrape configuration, start Prometheus and the ZooKeeper exporter (or leave
    them when they run with it) and wait until Prometheus is ready."""
    from svcctl.docker.engine import docker_client
    from svcctl.docker.images import image_exists
    from svcctl.net import port_is_free
    from svcctl.security.mode import SECURE, project_mode

    if project_mode(settings) == SECURE:
        raise BadInputError(
            "metrics are scraped from the open cluster only (a secured one serves no plain /metrics or mntr)",
            "use `svcctl cluster up` (after `cluster down --volumes`) to watch metrics",
        )
    require_compose()
    client = docker_client(settings.engine)
    for name, image in (("prometheus", prometheus_image()), ("registrator", registrator_image())):
        if not image_exists(client, image):
            raise NotFoundError(f"image {image} is not built", f"run `svcctl build {name}`")
    current = _container(settings)
    running_port = int((current.labels or {}).get(PORT_LABEL, 0)) if current is not None else 0
    if running_port != port and not port_is_free("127.0.0.1", port):
        raise ConflictError(
            f"port {port} on 127.0.0.1 is in use by another process",
            f"stop it (`ss -ltnp 'sport = :{port}'`) or pick another --port",
        )
    gw = gateway.running_info(settings)
    config = scrape_config(settings, gw.stats_port if gw is not None else None)
    text = json.dumps(config, indent=2) + "\n"
    config_dir = settings.state_path() / "prometheus"
    config_dir.mkdir(parents=True, exist_ok=True)
    config_dir.chmod(0o755)
    atomic_write(config_dir / "prometheus.yml", text, mode=0o644)
    compose = compose_client(
        settings,
        extra={
            "SVCCTL_PROMETHEUS_IMAGE": prometheus_image(),
            "SVCCTL_PROMETHEUS_PORT": str(port),
            "SVCCTL_PROMETHEUS_CONFIG_DIR": str(config_dir),
            "SVCCTL_PROMETHEUS_CONFIG_ID": hashlib.sha256(text.encode()).hexdigest()[:16],
            "SVCCTL_ZK_EXPORTER_PORT": str(settings.zk_exporter_port),
        },
    )
    scraped = ", ".join(job["job_name"] for job in config["scrape_configs"])
    on_progress(f"starting Prometheus ({prometheus_image()}) on 127.0.0.1:{port}, scraping {scraped}")
    if gw is None:
        on_progress("the gateway does not run: not scraped (run `metrics up` again after `gateway up`)")
    run_compose("metrics up", lambda: compose.compose.up(services=SERVICES, detach=True, quiet=True, pull="never"))
    if not poll_until(lambda: _ready(port), bool, time.monotonic() + timeout, interval=0.2):
        raise WaitTimeoutError(
            f"Prometheus is not ready on 127.0.0.1:{port} after {timeout:.0f}s",
            f"read its log (`docker logs {container_name(settings)}`)",
        )
    return status(settings)


def down(settings: Settings, on_progress: Progress = no_progress) -> bool:
    """Stop and remove Prometheus and the exporter (its data volume stays, as the members')."""
    if _container(settings) is None and _container(settings, ZK_EXPORTER) is None:
        return False
    compose = compose_client(settings)
    on_progress(f"stopping and removing {container_name(settings)} and {container_name(settings, ZK_EXPORTER)}")
    run_compose("metrics down", lambda: compose.compose.rm(services=SERVICES, stop=True))
    return True


def status(settings: Settings) -> MetricsInfo:
    container = _container(settings)
    if container is None:
        raise NotFoundError(
            f"Prometheus is not running (no container {container_name(settings)})", "start it with `svcctl metrics up`"
        )
    info = MetricsInfo(container.name, container.status, int((container.labels or {}).get(PORT_LABEL, 0)))
    if container.status == "running":
        info.targets = targets(info.port)
    return info
