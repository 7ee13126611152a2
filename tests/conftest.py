"""Shared fixtures; the helpers they use are in tests/support.py."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support import IN_CI, TEST_ZK, run_svcctl


def pytest_collection_modifyitems(items):
    for item in items:
        path = str(item.fspath)
        if "/tests/unit/" in path:
            item.add_marker(pytest.mark.unit)
        elif "/tests/e2e/" in path:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def engine():
    """A docker SDK client to the real engine; skip (or, in CI, fail) when none answers."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # any failure to reach the engine means the e2e tests cannot run
        message = f"no Docker engine: {exc}; run `make setup` (svcctl doctor --fix)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return client


@pytest.fixture(scope="session")
def images(engine) -> None:
    """Every image built (cache hits when `make test` already built them)."""
    run_svcctl("build", timeout=1800)


@pytest.fixture(scope="session")
def cluster(images) -> Iterator[str]:
    """The test project's ensemble (and registrators) up with quorum; removed at the end."""
    try:
        run_svcctl("cluster", "up", "--timeout", "180")
        yield TEST_ZK
    finally:
        run_svcctl("cluster", "down", "--volumes", check=False)


@pytest.fixture
def zk(cluster):
    from kazoo.client import KazooClient

    client = KazooClient(hosts=cluster, timeout=10)
    client.start(timeout=15)
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture(scope="session")
def hosts_cluster(images):
    """Three simulated hosts with the images the tests run loaded once, and the ensemble over
    them (member i and two registrators on host i), for the whole run; everything removed at the
    end. A project of its own (SVCCTL_TEST_PROJECT-hosts): its recorded layout must not turn the
    test project's local cluster into one over hosts."""
    from tests.support import HOSTS_IMAGES, HostsCluster, hosts_env

    env = hosts_env()
    try:
        hosts = json.loads(
            run_svcctl("hosts", "up", "3", "--images", HOSTS_IMAGES, "--json", env=env, timeout=1200).stdout
        )
        contexts = [h["name"] for h in hosts]
        run_svcctl("cluster", "up", "--hosts", ",".join(contexts), "--timeout", "180", env=env)
        yield HostsCluster(env, hosts)
    finally:
        run_svcctl("cluster", "down", "--volumes", env=env, check=False, timeout=300)
        run_svcctl("hosts", "down", env=env, check=False, timeout=300)
