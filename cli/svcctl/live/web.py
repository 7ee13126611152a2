"""`svcctl ui`'s web server: Flask on werkzeug's threaded server. The page (static/, served from
the package: nothing is fetched from elsewhere) loads one snapshot and then follows the
server-sent events of /events, one whole snapshot per change.

Actions (POST, JSON only, so a page of another origin cannot send them without a preflight)
are accepted from loopback clients only, whatever address the server listens on."""

from __future__ import annotations

import ipaddress
import json
import queue
from collections.abc import Callable, Iterator
from pathlib import Path

from svcctl.errors import ConflictError, SvcctlError
from svcctl.live import actions
from svcctl.live.state import LiveState

STATIC = Path(__file__).resolve().parent / "static"
KEEPALIVE_S = 15.0


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def create_app(live: LiveState):
    from flask import Flask, Response, jsonify, request, send_from_directory

    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")

    @app.get("/")
    def index():
        return send_from_directory(STATIC, "index.html")

    @app.get("/api/state")
    def state():
        return jsonify(live.snapshot())

    @app.get("/api/scenarios")
    def scenarios():
        return jsonify(actions.scenario_names())

    @app.get("/events")
    def events():
        subscription = live.hub.subscribe()

        def stream() -> Iterator[str]:
            try:
                yield f"data: {json.dumps(live.snapshot(), default=str)}\n\n"
                while True:
                    try:
                        yield f"data: {subscription.get(timeout=KEEPALIVE_S)}\n\n"
                    except queue.Empty:
                        yield ": keepalive\n\n"
            finally:
                live.hub.unsubscribe(subscription)

        return Response(stream(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})

    def act(name: str, make: Callable[[dict], actions.Work]):
        if not is_loopback(request.remote_addr):
            return jsonify({"error": "actions are accepted from this machine (loopback) only"}), 403
        if not request.is_json:
            return jsonify({"error": "send the action as application/json"}), 415
        body = request.get_json(silent=True) or {}
        try:
            work = make(body)
        except SvcctlError as exc:
            return jsonify({"error": exc.one_line()}), 400
        except (KeyError, TypeError, ValueError) as exc:
            return jsonify({"error": f"bad request: {exc}"}), 400
        label = f"{name} {' '.join(str(v) for v in body.values())}".strip()
        if not live.run_action(label, work):
            return jsonify({"error": f"{live.action['running']} is still running"}), 409
        return jsonify({"started": label}), 202

    @app.post("/api/scale")
    def scale():
        return act("scale", lambda b: actions.scale_work(live.settings, str(b["service"]), int(b["count"])))

    @app.post("/api/stop")
    def stop():
        return act("stop", lambda b: actions.stop_work(live.settings, str(b["container"])))

    @app.post("/api/scenario")
    def scenario():
        return act("scenario", lambda b: actions.scenario_work(live.settings, str(b["name"])))

    return app


def make_server(live: LiveState, host: str, port: int):
    """The threaded WSGI server (serve_forever / shutdown); a port in use is a ConflictError."""
    from werkzeug.serving import make_server as werkzeug_server

    try:
        return werkzeug_server(host, port, create_app(live), threaded=True)
    except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
        raise ConflictError(
            f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}",
            "pick another --port (or stop what holds it)",
        ) from None
