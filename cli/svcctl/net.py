"""This machine's own network facts (no docker imports)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import urllib.request


def host_address() -> str:
    """The address advertised for ports bound to every interface (0.0.0.0)."""
    try:
        address = socket.gethostbyname(socket.gethostname())
        if not address.startswith("127."):
            return address
    except OSError:
        pass
    # The address of the default route, found without sending anything.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
            return sock.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def port_is_free(host: str, port: int) -> bool:
    """Whether a listener could bind host:port now (SO_REUSEADDR: a port in TIME_WAIT is free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def direct_opener() -> urllib.request.OpenerDirector:
    """urllib's opener for this machine's own services (the gateway, Prometheus, the page):
    never through a proxy, whatever http_proxy says."""
    import urllib.request

    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answers_ok(url: str, timeout: float = 2.0) -> bool:
    """GET `url` answers 200 (directly, see direct_opener)."""
    try:
        with direct_opener().open(url, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False
