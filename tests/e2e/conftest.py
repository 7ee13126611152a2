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
def secure_cluster(images):
    """The secured test ensemble and its registrators (TLS, ACLs, the Docker API proxy), started
    once per session in a project of its own; removed with its data at the end."""
    from tests.e2e.helpers_secure import SECURE_ZK, secure_env
    from tests.support import run_svcctl

    try:
        run_svcctl("cluster", "up", "--secure", "--timeout", "180", env=secure_env())
        yield SECURE_ZK
    finally:
        run_svcctl("cluster", "down", "--volumes", check=False, env=secure_env())


@pytest.fixture
def anonymous_zk(secure_cluster):
    """A TLS client with the CA only: no identity."""
    from tests.e2e.helpers_secure import tls_client

    client = tls_client()
    try:
        yield client
    finally:
        client.stop()
        client.close()
