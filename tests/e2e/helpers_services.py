"""Independent observers for the sample-service e2e tests: what Docker really publishes and what
ZooKeeper really holds, read with the docker SDK and kazoo directly (not through svcctl's own
functions, so a bug there cannot hide itself)."""

from __future__ import annotations

import json

from tests.support import TEST_PROJECT, run_svcctl, wait_for  # noqa: F401 (re-exported for the tests)

NAMING = {"service_1": ("SERVICE_NAME", "8080/tcp"), "service_2": ("SERVICE_80_NAME", "80/tcp")}
ANSWERS = {"service_1": "This is Service 1.", "service_2": "This is Service 2."}


def _env(container) -> dict[str, str]:
    # Env is null for a container created with none (another stack's on the same engine).
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"] or [] if "=" in item)


# What the test project's registrators register: a named project (the suite runs as one,
# SVCCTL_TEST_PROJECT) only its own containers, the default project every container of the engine.
REGISTERS_THE_WHOLE_ENGINE = TEST_PROJECT == "svcctl"


def docker_endpoints(engine, service: str, project_only: bool = False) -> dict[str, str]:
    """`127.0.0.1:<host port>` -> container id for each running container that registers as
    `service` in the test project's ensemble (`project_only`: of the test project, whatever its
    registrators' scope)."""
    key, port = NAMING[service]
    filters = {"status": "running"}
    if project_only or not REGISTERS_THE_WHOLE_ENGINE:
        filters["label"] = f"com.docker.compose.project={TEST_PROJECT}"
    found = {}
    for container in engine.containers.list(filters=filters, ignore_removed=True):
        if _env(container).get(key) != service:
            continue
        for binding in container.attrs["NetworkSettings"]["Ports"].get(port) or []:
            found[f"127.0.0.1:{binding['HostPort']}"] = container.id
    return found


def zk_children(zk, service: str) -> list[str] | None:
    from kazoo.exceptions import NoNodeError

    try:
        return sorted(zk.get_children(f"/services/{service}"))
    except NoNodeError:
        return None


def zk_matches_docker(zk, engine, service: str) -> bool:
    """ZooKeeper's children equal Docker's published ports, and an empty service has no node."""
    expected = docker_endpoints(engine, service)
    children = zk_children(zk, service)
    if not expected:
        return children is None
    return children is not None and set(children) == set(expected)


def payload(zk, service: str, endpoint: str) -> dict:
    data, _ = zk.get(f"/services/{service}/{endpoint}")
    return json.loads(data)


def http_answer(endpoint: str, path: str = "/") -> str:
    from svcctl.net import direct_opener

    with direct_opener().open(f"http://{endpoint}{path}", timeout=5) as response:
        assert response.status == 200
        return response.read().decode().strip()


def answers_through_zookeeper(zk, service: str, endpoint: str) -> bool:
    """The endpoint found in ZooKeeper answers the service's text (retried: a JVM that just
    started may not accept connections yet)."""
    assert endpoint in (zk_children(zk, service) or []), f"{endpoint} is not registered under /services/{service}"
    try:
        return http_answer(endpoint) == ANSWERS[service]
    except OSError:
        return False


def clean_services() -> None:
    run_svcctl("stop", "service_1", "service_2", check=False)
