"""Requests/s through `svcctl gateway` vs direct to one instance, in the same run (loopback only).

Starts one backend container (php_service_2:1.0 when built, else a perl responder from the
bootstrapped base), registers it into the stack's ensemble under the bench's own session,
starts `svcctl gateway` on a free port, then sends the same bounded number of GETs both ways
with a few keep-alive client threads. Everything it started is removed at the end.

Uses the environment's stack (SVCCTL_ZK ...); the ensemble must be up (`svcctl cluster up`).
Usage: python bench/gateway.py [--requests N] [--threads T]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from svcctl.config import default_zk_connect  # noqa: E402

SVCCTL = str(Path(sys.executable).with_name("svcctl"))
PERL_RESPONDER = r"""use IO::Socket::INET; my $s=IO::Socket::INET->new(LocalPort=>80,Listen=>128,ReuseAddr=>1) or die;
while(my $c=$s->accept){ my $r=""; while(<$c>){ last if /^\r?\n$/; $r.=$_ } my $b="hello\n";
print $c "HTTP/1.0 200 OK\r\nContent-Length: ".length($b)."\r\nConnection: close\r\n\r\n$b"; close $c }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def load(port: int, total: int, threads: int, headers: dict[str, str]) -> tuple[float, int]:
    """(requests/s, errors) for `total` GETs over `threads` keep-alive connections."""
    per = [total // threads + (1 if i < total % threads else 0) for i in range(threads)]
    errors = [0] * threads

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(per[i]):
            try:
                conn.request("GET", "/", headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors[i] += 1
                if resp.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
        conn.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return total / (time.perf_counter() - start), sum(errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    import docker
    from kazoo.client import KazooClient

    engine = docker.from_env()
    images = {t for i in engine.images.list() for t in i.tags}
    if "php_service_2:1.0" in images:
        backend_desc = "php_service_2:1.0 (Apache + mod_php)"
        run = dict(image="php_service_2:1.0", command=None)
    else:
        backend_desc = "perl responder (svcctl/base:bookworm)"
        run = dict(image="svcctl/base:bookworm", command=["perl", "-e", PERL_RESPONDER])
    service = f"bench_{uuid.uuid4().hex[:6]}"
    container = engine.containers.run(run["image"], run["command"], detach=True, name=f"svcctl-bench-{service}",
                                      ports={"80/tcp": ("127.0.0.1", None)}, environment={"SERVICE_IGNORE": "1"}, labels={"SERVICE_IGNORE": "true"})
    zk = KazooClient(hosts=os.environ.get("SVCCTL_ZK", default_zk_connect()), timeout=10)
    gateway = None
    try:
        container.reload()
        port = int(container.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
        wait_port(port)
        zk.start(timeout=15)
        payload = {"Name": service, "IP": "127.0.0.1", "PublicPort": port, "PrivatePort": 80, "ContainerID": container.id[:12], "Tags": [], "Attrs": {}}
        zk.create(f"/services/{service}/127.0.0.1:{port}", json.dumps(payload).encode(), ephemeral=True, makepath=True)
        gw_port = free_port()
        gateway = subprocess.Popen([SVCCTL, "gateway", "--port", str(gw_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(gw_port)
        headers = {"service_name": service}
        # Warm-up both paths (the gateway's cache, Apache's workers).
        load(port, 100, args.threads, {})
        load(gw_port, 100, args.threads, headers)
        direct, direct_err = load(port, args.requests, args.threads, {})
        via, via_err = load(gw_port, args.requests, args.threads, headers)
        print(f"backend: {backend_desc}; {args.requests} GETs per path, {args.threads} keep-alive client threads")
        print(f"direct to 127.0.0.1:{port}        {direct:8.0f} req/s  ({direct_err} errors)")
        print(f"through svcctl gateway :{gw_port}  {via:8.0f} req/s  ({via_err} errors)")
        print(f"ratio: the gateway delivers {via / direct:.2f}x the direct rate ({direct / via:.1f}x slower)")
        return 0 if direct_err == 0 and via_err == 0 else 1
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(timeout=15)
        if zk.connected:
            zk.delete(f"/services/{service}", recursive=True)
            zk.stop()
        zk.close()
        container.remove(force=True)


if __name__ == "__main__":
    sys.exit(main())
