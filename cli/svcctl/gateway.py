"""An HTTP gateway over the service cache, like the classic demo's Node gateway but without its
bugs: the target comes from the live cache (a service whose last instance left answers 503, never
a stale address), the watch survives the service node's deletion and session expiry.

Request: header `service_name` (required) and `api_name` (optional, default the request path).
GET /services (without service_name) lists what the gateway knows, as JSON.
404 means never registered since the gateway started; 503 a service seen before with no live
instance now (the registrator deletes the service node together with its last instance).
"""

from __future__ import annotations

import http.client
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from .discovery import Instance, ServiceCache

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
# Methods whose repetition can do something twice: never retried once the request may have left.
NON_IDEMPOTENT = {"POST", "PATCH"}


class Gateway(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], cache: ServiceCache, timeout: float = 5.0, on_request: Callable[[str], None] | None = None) -> None:
        self.cache = cache
        self.upstream_timeout = timeout
        self.on_request = on_request
        super().__init__(address, GatewayHandler)


class GatewayHandler(BaseHTTPRequestHandler):
    server: Gateway
    protocol_version = "HTTP/1.1"  # keep-alive between client and gateway
    # Headers and body leave in two writes: without TCP_NODELAY, Nagle + the client's delayed
    # ACK add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True

    route = ""  # `service -> instance api` of the request being handled, for the access log

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        if self.server.on_request is not None:
            self.server.on_request(format % args + (f" [{self.route}]" if self.route else ""))

    def _reply(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
        content_length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._reply(status, (json.dumps(value, indent=2) + "\n").encode(), "application/json")

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        self.route = ""
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self._json(400, {"error": f"bad Content-Length {self.headers.get('Content-Length')!r}"})
            return
        body = self.rfile.read(length) if length else None
        name = self.headers.get("service_name")
        if not name:
            if self.path.split("?")[0].rstrip("/") == "/services" and self.command in ("GET", "HEAD"):
                services = self.server.cache.services()
                self._json(200, {n: [i.to_dict() for i in insts] for n, insts in services.items()})
                return
            self._json(400, {"error": "missing header service_name", "fix": "send `service_name: <name>` (and optionally `api_name: /path`)"})
            return
        api = self.headers.get("api_name") or self.path
        if not api.startswith("/"):
            api = "/" + api
        cache = self.server.cache
        if not cache.ever_seen(name):
            self._json(404, {"error": f"unknown service {name!r}", "known": sorted(cache.services())})
            return
        tried: set[str] = set()
        failures: list[str] = []
        while True:
            instance = cache.pick(name, exclude=tried)
            if instance is None:
                if not tried:
                    self._json(503, {"error": f"service {name!r} has no live instance"})
                else:
                    self._json(502, {"error": f"every instance of {name!r} failed", "attempts": failures})
                return
            tried.add(instance.address)
            self.route = f"{name} -> {instance.address}{api}"
            try:
                status, headers, payload = self._forward(instance, api, body)
            except (OSError, http.client.HTTPException) as exc:
                # The instance is going away: try the next one, unless the request may already
                # have had its effect there (a non-idempotent method that got past connecting).
                failures.append(f"{instance.address}: {type(exc).__name__}")
                if isinstance(exc, ConnectionRefusedError) or self.command not in NON_IDEMPOTENT:
                    continue
                self._json(502, {"error": f"{self.command} to {instance.address} failed; not retried (not idempotent)", "attempts": failures})
                return
            # Server and Date come from the gateway's own send_response: not twice.
            extra = {k: v for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() not in ("content-type", "server", "date")}
            extra["X-Svcctl-Instance"] = instance.address
            content_type = next((v for k, v in headers if k.lower() == "content-type"), "application/octet-stream")
            # A HEAD answer has no body but says how long the GET's would be.
            upstream_length = next((v for k, v in headers if k.lower() == "content-length"), None)
            length = int(upstream_length) if self.command == "HEAD" and upstream_length and upstream_length.isdigit() else None
            self._reply(status, payload, content_type, extra, content_length=length)
            return

    def _forward(self, instance: Instance, api: str, body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(instance.ip, instance.port, timeout=self.server.upstream_timeout)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() not in ("service_name", "api_name")}
            headers["Host"] = instance.address
            conn.request(self.command, api, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()


def make_gateway(cache: ServiceCache, host: str = "127.0.0.1", port: int = 8080, on_request: Callable[[str], None] | None = None) -> Gateway:
    """A bound (not yet serving) gateway; port 0 picks a free one. A taken port is a ConflictError."""
    import socket

    from .errors import BadInputError, ConflictError

    try:
        return Gateway((host, port), cache, on_request=on_request)
    except socket.gaierror as exc:
        raise BadInputError(f"cannot listen on {host}:{port}: unknown address ({exc.strerror or exc})", "use an address of this host, e.g. --host 127.0.0.1") from exc
    except OSError as exc:
        raise ConflictError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", "pick another --port") from exc
