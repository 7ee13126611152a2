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
