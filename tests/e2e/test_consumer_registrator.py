"""The consumer side against the real registrator and sample services.

The default project's registrators register every container of the engine, so a test project
run as `svcctl` would see other stacks' instances under /services/service_2: watch assertions
follow this project's containers (payload svcctl.compose_project), and the 503 case uses a
service name of its own (a php_service_2 container named by SERVICE_NAME, labelled as the test
project's so that its scoped registrators register it) so no foreign instance can answer."""

from __future__ import annotations

import http.client
import json
import subprocess
import threading
import uuid

from tests.e2e.helpers_zk import unique, wait_for
from tests.e2e.test_discovery import get
from tests.e2e.test_zk_cli import Stream
from tests.support import SVCCTL, TEST_PROJECT, free_port, run_svcctl, svcctl_env

WAIT = 90.0


def mine(zk, service: str) -> set[str]:
    """Instance nodes of `service` whose container belongs to the test project."""
    from kazoo.exceptions import NoNodeError

    out = set()
    try:
        kids = zk.get_children(f"/services/{service}")
    except NoNodeError:
        return out
    for kid in kids:
        try:
            data, _ = zk.get(f"/services/{service}/{kid}")
        except NoNodeError:
            continue
        if (json.loads(data or b"{}").get("svcctl") or {}).get("compose_project") == TEST_PROJECT:
            out.add(kid)
    return out


def test_watch_sees_scale_up_and_stop(zk):
    run_svcctl("stop", "service_2", timeout=300)
    stream = Stream("/services/service_2", "--recursive", "--timeout", "240")
    try:
        run_svcctl("scale", "service_2", "2", timeout=300)
        wait_for(lambda: len(mine(zk, "service_2")) == 2, "two registrations of this project's service_2", WAIT)
        ours = {f"/services/service_2/{k}" for k in mine(zk, "service_2")}
        wait_for(lambda: ours <= {p for k, p in stream.kinds() if k == "child_added"}, f"child_added for {ours}", WAIT)
        added = [e for e in stream.events if e["kind"] == "child_added" and e["path"] in ours]
        assert all(
            e["data"]["svcctl"]["compose_project"] == TEST_PROJECT and e["data"]["Name"] == "service_2" for e in added
        )

        run_svcctl("stop", "service_2", timeout=300)
        wait_for(
            lambda: ours <= {p for k, p in stream.kinds() if k in ("child_removed", "node_deleted")},
            f"removal of {ours}",
            WAIT,
        )
    finally:
        stream.stop()
        run_svcctl("stop", "service_2", timeout=300, check=False)


def test_call_keeps_answering_while_scaling_3_to_1(zk):
    try:
        run_svcctl("scale", "service_2", "3", timeout=300)
        wait_for(lambda: len(mine(zk, "service_2")) == 3, "three registrations", WAIT)
        proc = subprocess.Popen(
            [SVCCTL, "call", "service_2", "--count", "60", "--interval", "0.1", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=svcctl_env(),
        )
        results: list[dict] = []
        reader = threading.Thread(target=lambda: results.extend(json.loads(line) for line in proc.stdout), daemon=True)
        reader.start()
        wait_for(lambda: len(results) >= 5, "the first calls", WAIT)
        run_svcctl("scale", "service_2", "1", timeout=300)
        wait_for(lambda: len(mine(zk, "service_2")) == 1, "one registration left", WAIT)
        code = proc.wait(timeout=120)
        reader.join(timeout=5)
        stderr = proc.stderr.read()
        assert code == 0, f"not every call was answered:\n{stderr}\n{[r for r in results if not r['ok']]}"
        assert len(results) == 60 and all(r["body"] == "This is Service 2." for r in results)
        assert "instance removed" in stderr
    finally:
        run_svcctl("stop", "service_2", timeout=300, check=False)


def test_gateway_503_after_last_instance_stops_and_200_after_it_starts(zk, engine):
    service = unique("gw")
    container = engine.containers.run(
        "php_service_2:1.0",
        detach=True,
        name=f"{TEST_PROJECT}-gw-{uuid.uuid4().hex[:6]}",
        environment={"SERVICE_NAME": service},
        labels={"com.docker.compose.project": TEST_PROJECT},  # in the scope of the project's registrators
        ports={"80/tcp": ("127.0.0.1", None)},
    )
    port = free_port()
    gateway = subprocess.Popen(
        [SVCCTL, "gateway", "--port", str(port), "--stats-port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=svcctl_env(),
    )

    def status() -> int:
        try:
            return get(port, "/", {"service_name": service})[0]
        except (OSError, http.client.HTTPException):
            return -1

    try:
        wait_for(lambda: status() == 200, "200 once the registrator registered the container", WAIT)
        assert get(port, "/", {"service_name": service})[2] == "This is Service 2."
        container.stop(timeout=10)
        wait_for(lambda: status() == 503, "503 after the last instance stopped", WAIT)
        body = get(port, "/", {"service_name": service})[2]
        assert "no live instance" in body
        container.start()
        wait_for(lambda: status() == 200, "200 after it started again", WAIT)
    finally:
        gateway.terminate()
        gateway.wait(timeout=15)
        container.remove(force=True)
        if zk.exists(f"/services/{service}"):
            zk.delete(f"/services/{service}", recursive=True)
