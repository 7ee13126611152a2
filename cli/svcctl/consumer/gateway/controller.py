"""The gateway's control plane: the service cache (a ZooKeeper watch) → HAProxy.

One thread reconciles what ZooKeeper says (desired) with what the running HAProxy worker has
(tracked here, exact after every reload), on the admin socket, without a reload:

- an instance registered: `add server`, `enable health`, `enable server`;
- an instance whose registration went (the registrator removes it at the engine's kill event):
  `set server … state maint` at once (no new request goes there, requests in flight finish),
  then `del server` once HAProxy has no connection left on it;
- the same address registered again while draining: `state ready`;
- a new service: HAProxy 2.6 cannot add a backend at run time, so the configuration carries
  SPARE_BACKENDS empty ones; the service takes one (`add map` on the name → backend map the
  frontend routes with) and gets its servers. Only when no spare is left is the configuration
  written anew (every service its own `svc.<name>` backend, fresh spares) and HAProxy reloaded
  seamlessly (master-worker: the listeners pass to the new worker, the old one finishes its
  requests). Reloads are rare because a reload closes the old worker's idle keep-alive client
  connections, and a client that sent a request at that instant sees the connection close.

A backend stays as long as the controller runs, so a service that lost its last instance
answers 503 (not 404, which means never registered since the gateway started).

The controller's small HTTP endpoint on 127.0.0.1 sits behind HAProxy for `GET /services`
(no `service_name` header: the registry as the cache sees it) and, on the stats port,
`/svcctl/status` (per service its servers from HAProxy's `show stat`) and `/svcctl/metrics` (the
controller's Prometheus metrics; HAProxy's own exporter answers `/metrics`). Service traffic
never passes through Python.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svcctl.consumer.gateway.haproxy import (
    SERVER_OPTIONS,
    HaproxyProcess,
    ProxySettings,
    RuntimeApiError,
    backend_name,
    haproxy_binary,
    parse_stats_csv,
    render_config,
    render_map,
    routable,
    runtime_command,
    spare_name,
)
from svcctl.files import atomic_write

if TYPE_CHECKING:
    from svcctl.consumer.cache import ServiceCache
    from svcctl.zk.tls import ZkTls

READY, DRAINING = "ready", "draining"
# A draining server with connections still open after this long has them shut.
DRAIN_TIMEOUT = 30.0
SPARE_BACKENDS = 32


class OpKind(StrEnum):
    """A runtime-API step (the controller's method `_<kind>` does it): assign (a spare backend to
    a new service), add (a server), drain (maint) or ready (back from draining). Drained servers
    are deleted apart, once their connections are gone."""

    ASSIGN = "assign"
    ADD = "add"
    DRAIN = "drain"
    READY = "ready"


@dataclass(frozen=True)
class Op:
    """One runtime-API step."""

    kind: OpKind
    service: str
    address: str = ""


@dataclass
class Plan:
    reload: bool = False  # more new services than spare backends
    ops: list[Op] = field(default_factory=list)


def desired_state(services: dict[str, list[Any]]) -> dict[str, set[str]]:
    """service → addresses, keeping only what HAProxy can name."""
    return {
        name: {i.address for i in instances if routable(i.address)}
        for name, instances in services.items()
        if routable(name)
    }


def plan(desired: dict[str, set[str]], known: set[str], servers: dict[str, dict[str, str]], spares: int) -> Plan:
    """What to do to make the worker (`known` services with a backend, `servers`: service →
    address → state, `spares` free backends) match `desired`. Pure."""
    new = sorted(set(desired) - known)
    if len(new) > spares:
        return Plan(reload=True)
    result = Plan(ops=[Op(OpKind.ASSIGN, name) for name in new])
    for service in sorted(known | set(new)):
        wanted = desired.get(service, set())
        current = servers.get(service, {})
        for address in sorted(wanted):
            state = current.get(address)
            if state is None:
                result.ops.append(Op(OpKind.ADD, service, address))
            elif state == DRAINING:
                result.ops.append(Op(OpKind.READY, service, address))
        for address, state in sorted(current.items()):
            if address not in wanted and state == READY:
                result.ops.append(Op(OpKind.DRAIN, service, address))
    return result


class ControllerEndpoint(HTTPServer):
    """`GET /services` and `/svcctl/status` for HAProxy's `_services` backend."""

    def __init__(self, controller: GatewayController) -> None:
        self.controller = controller
        super().__init__(("127.0.0.1", 0), _EndpointHandler)

    @property
    def port(self) -> int:
        return self.server_address[1]


class _EndpointHandler(BaseHTTPRequestHandler):
    server: ControllerEndpoint

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def do_GET(self) -> None:
        controller = self.server.controller
        try:
            if self.path.startswith("/svcctl/metrics"):
                from svcctl.consumer.gateway.metrics import CONTENT_TYPE, render

                self._send(200, render(controller), CONTENT_TYPE)
                return
            if self.path.startswith("/svcctl/status"):
                value: Any = controller.status()
            else:
                services = controller.cache.services()
                value = {n: [i.to_dict() for i in insts] for n, insts in services.items()}
            status = 200
        except RuntimeApiError as exc:
            value, status = {"error": str(exc)}, 503
        self._send(status, (json.dumps(value, indent=2) + "\n").encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET


class GatewayController:
    """Runs HAProxy and keeps it in step with the cache until `stop()`."""

    def __init__(
        self,
        cache: ServiceCache,
        host: str,
        port: int,
        stats_port: int,
        workdir: Path,
        on_event: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self.cache = cache
        self.host, self.port, self.stats_port = host, port, stats_port
        self.workdir = workdir
        self.on_event = on_event
        self.config_path = workdir / "haproxy.cfg"
        self.map_path = workdir / "services.map"
        self.admin_socket = str(workdir / "admin.sock")
        self.backend_of: dict[str, str] = {}  # service → its backend in the running worker
        self.spares: list[str] = []  # free spare backends
        self.servers: dict[str, dict[str, str]] = {}
        self.draining_since: dict[tuple[str, str], float] = {}
        self.reloads = 0
        self.changes: Counter[str] = Counter()  # runtime API changes applied, by kind (metrics)
        self._lock = threading.Lock()  # the tracked state, read by status()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.endpoint: ControllerEndpoint | None = None
        self.haproxy: HaproxyProcess | None = None

    # --- lifecycle ---

    def start(self) -> None:
        """Start the endpoint and HAProxy with what the cache holds now (the cache is started)."""
        binary = haproxy_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.endpoint = ControllerEndpoint(self)
        threading.Thread(
            target=self.endpoint.serve_forever, kwargs={"poll_interval": 0.5}, name="gateway-endpoint", daemon=True
        ).start()
        self.haproxy = HaproxyProcess(binary, self.config_path, self.admin_socket, on_line=self.on_event)
        self._write_config(desired_state(self.cache.services()))
        self.haproxy.start()
        self.cache.add_listener(lambda _change: self._wake.set())
        self._thread = threading.Thread(target=self._run, name="gateway-controller", daemon=True)
        self._thread.start()
        self._wake.set()  # a change between the first read and the listener

    def wait(self, timeout: float | None = None) -> None:
        """Block until stopped or failed (a failure is raised here, on the caller's thread)."""
        from svcctl.wait import poll_until

        def stopped() -> bool:
            # A failure ends the wait at once, raised here.
            if self._failure is not None:
                raise self._failure
            if self.haproxy is not None and not self.haproxy.running():
                from svcctl.errors import SvcctlError

                raise SvcctlError(
                    "haproxy exited", "read haproxy's output above", details="\n".join(self.haproxy.last_lines)
                )
            return self._stopping.is_set()

        poll_until(stopped, bool, math.inf if timeout is None else time.monotonic() + timeout, 0.2)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.haproxy is not None:
            self.haproxy.stop()
        if self.endpoint is not None:
            self.endpoint.shutdown()
            self.endpoint.server_close()

    # --- reconciliation ---

    def _run(self) -> None:
        while not self._stopping.is_set():
            # Draining servers are looked at twice a second; otherwise a change wakes us.
            self._wake.wait(timeout=0.5 if self.draining_since else 5.0)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.reconcile()
            except RuntimeApiError as exc:
                if self.haproxy is not None and not self.haproxy.running():
                    return  # wait() reports it
                self.on_event(f"runtime API: {exc}; retrying")
                time.sleep(0.5)
                self._wake.set()
            except BaseException as exc:  # noqa: BLE001 - handed to wait() on the main thread
                self._failure = exc
                return

    def reconcile(self) -> None:
        desired = desired_state(self.cache.services())
        with self._lock:
            steps = plan(desired, set(self.backend_of), self.servers, len(self.spares))
            if steps.reload:
                new = sorted(set(desired) - set(self.backend_of))
                self._write_config(desired)
                assert self.haproxy is not None
                self.haproxy.reload()
                self.reloads += 1
                self.on_event(f"reloaded HAProxy (no spare backend left) for: {', '.join(new)}")
                return
            for op in steps.ops:
                getattr(self, f"_{op.kind}")(op.service, op.address)
                self.changes[str(op.kind)] += 1
            self._delete_drained()

    def _write_config(self, desired: dict[str, set[str]]) -> None:
        """The configuration for `desired` plus every service the worker knows (kept for 503)."""
        services = {name: sorted(desired.get(name, set())) for name in set(desired) | set(self.backend_of)}
        assert self.endpoint is not None
        settings = ProxySettings(
            self.host, self.port, self.stats_port, self.admin_socket, str(self.map_path), self.endpoint.port
        )
        for path, text in (
            (self.map_path, render_map(services)),
            (self.config_path, render_config(settings, services, SPARE_BACKENDS)),
        ):
            atomic_write(path, text, mode=0o644)
        self.backend_of = {name: backend_name(name) for name in services}
        self.spares = [spare_name(i) for i in range(SPARE_BACKENDS)]
        self.servers = {name: {a: READY for a in addresses} for name, addresses in services.items()}
        self.draining_since.clear()

    def _api(self, command: str) -> str:
        return runtime_command(self.admin_socket, command).strip()

    def _server(self, service: str, address: str) -> str:
        return f"{self.backend_of[service]}/{address}"

    def _assign(self, service: str, _address: str) -> None:
        backend = self.spares[0]
        answer = self._api(f"add map {self.map_path} {service} {backend}")
        if answer:
            raise RuntimeApiError(f"add map {service} → {backend}: {answer}", "see HAProxy's output")
        self.spares.pop(0)
        self.backend_of[service] = backend
        self.servers.setdefault(service, {})
        self.on_event(f"{service}: new service, backend {backend}")

    def _add(self, service: str, address: str) -> None:
        server = self._server(service, address)
        answer = self._api(f"add server {server} {address} {SERVER_OPTIONS}")
        if "registered" not in answer.lower() and "already exists" not in answer.lower():
            raise RuntimeApiError(f"add server {server}: {answer}", "see HAProxy's output")
        self._api(f"enable health {server}")
        self._api(f"enable server {server}")
        self.servers.setdefault(service, {})[address] = READY
        self.on_event(f"{service}: server {address} added")

    def _drain(self, service: str, address: str) -> None:
        self._api(f"set server {self._server(service, address)} state maint")
        self.servers[service][address] = DRAINING
        self.draining_since[(service, address)] = time.monotonic()
        self.on_event(f"{service}: server {address} in maintenance (draining)")

    def _ready(self, service: str, address: str) -> None:
        self._api(f"set server {self._server(service, address)} state ready")
        self.servers[service][address] = READY
        self.draining_since.pop((service, address), None)
        self.on_event(f"{service}: server {address} back (registered again)")

    def _delete_drained(self) -> None:
        for (service, address), since in list(self.draining_since.items()):
            server = self._server(service, address)
            if time.monotonic() - since > DRAIN_TIMEOUT:
                self._api(f"shutdown sessions server {server}")
            answer = self._api(f"del server {server}")
            if "deleted" in answer.lower() or "no such server" in answer.lower():
                del self.draining_since[(service, address)]
                self.servers[service].pop(address, None)
                self.changes["delete"] += 1
                self.on_event(f"{service}: server {address} deleted")

    # --- status ---

    def servers_by_state(self) -> dict[str, Counter[str]]:
        """Per service, how many of its servers are ready and how many draining."""
        with self._lock:
            return {service: Counter(states.values()) for service, states in self.servers.items()}

    def status(self) -> list[dict]:
        """Per service its servers (state, sessions) and totals, from HAProxy's `show stat`."""
        with self._lock:
            service_of = {backend: service for service, backend in self.backend_of.items()}
        stats = parse_stats_csv(self._api("show stat"), service_of)
        return [stats[name].to_dict() for name in sorted(stats)]


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def check_listen(host: str, port: int, option: str) -> None:
    """Fail before starting anything when the address is bad or the port is taken."""
    import socket

    from svcctl.errors import BadInputError, ConflictError

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except socket.gaierror as exc:
            raise BadInputError(
                f"cannot listen on {host}:{port}: unknown address ({exc.strerror or exc})",
                "use an address of this host, e.g. --host 127.0.0.1",
            ) from exc
        except OSError as exc:
            raise ConflictError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}", f"pick another {option}"
            ) from exc


def run_gateway(
    zk_hosts: list,
    host: str,
    port: int,
    stats_port: int,
    on_event: Callable[[str], None],
    on_ready: Callable[[GatewayController], None],
    stop: threading.Event,
    tls: ZkTls | None = None,
) -> None:
    """The foreground gateway (also the container's process): the cache, the controller and
    HAProxy until `stop` is set (or Ctrl-C); everything is stopped on the way out."""
    import tempfile

    from svcctl.consumer.cache import ServiceCache
    from svcctl.zk.client import make_client, start_client

    haproxy_binary()  # no haproxy: say so before connecting anywhere
    port = port or free_port(host)
    stats_port = stats_port or free_port()
    check_listen(host, port, "--port")
    check_listen("127.0.0.1", stats_port, "--stats-port")
    client = make_client(zk_hosts, tls=tls)  # a secured ensemble: TLS with its CA (reads need no identity)
    start_client(client, zk_hosts, connect_timeout=5.0)
    cache = ServiceCache(client)
    try:
        cache.start()
        with tempfile.TemporaryDirectory(prefix="svcctl-gateway-") as workdir:
            controller = GatewayController(cache, host, port, stats_port, Path(workdir), on_event)
            try:
                controller.start()
                on_ready(controller)
                while not stop.is_set():
                    controller.wait(timeout=0.5)
            finally:
                controller.stop()
    finally:
        cache.stop()
        client.stop()
        client.close()
