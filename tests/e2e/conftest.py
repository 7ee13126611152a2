"""Fixtures shared by the e2e modules (the engine/images/cluster ones live in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers_services import clean_services


@pytest.fixture
def services(cluster):
    """The test project's sample services stopped before and after the test."""
    clean_services()
    try:
        yield
    finally:
        clean_services()


@pytest.fixture(scope="session")
def secure_start(images, engine):
    """The secured test ensemble and its registrators (TLS, ACLs, the Docker API proxy), started
    once per session in a project of its own, with an outsider racing the start (only ca.pem:
    tests/e2e/test_secure_attacks.py reads what it achieved); removed with its data at the end."""
    from tests.e2e.helpers_secure import SECURE_PORTS, SECURE_ZK, RacingOutsider, secure_env
    from tests.support import run_svcctl

    outsider = RacingOutsider(SECURE_PORTS, str(engine.info()["ID"]))
    outsider.start()
    try:
        try:
            run_svcctl("cluster", "up", "--secure", "--timeout", "180", env=secure_env())
        finally:
            outsider.stop()
        yield SECURE_ZK, outsider
    finally:
        run_svcctl("cluster", "down", "--volumes", check=False, env=secure_env())


@pytest.fixture(scope="session")
def secure_cluster(secure_start):
    return secure_start[0]


@pytest.fixture
def reader_zk(secure_cluster):
    """A TLS client with the CLI's reader identity (the least a secured ensemble accepts)."""
    from tests.e2e.helpers_secure import READER, tls_client

    client = tls_client(READER)
    try:
        yield client
    finally:
        client.stop()
        client.close()
