"""Fixtures for tests that need an S3 API server: a real moto_server process, a fresh bucket each.

Imported where needed (`from tests.s3_server import s3_server, s3_bucket  # noqa: F401`) rather
than put in a conftest, so that only the tests that use S3 pay for starting the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from landlord.devservices.s3 import LocalS3


@pytest.fixture(scope="session")
def s3_server() -> Iterator[LocalS3]:
    """One moto_server for the session (stopped at its end); fails when it cannot run here.

    No skip: moto (with flask) is a test dependency, so a missing executable is a broken setup.
    """
    reason = LocalS3.available()
    if reason is not None:
        pytest.fail(f"an S3 server is needed and cannot run here: {reason}", pytrace=False)
    with LocalS3() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: LocalS3) -> str:
    """A new bucket with object lock enabled (hence versioning): tests never see each other's objects."""
    return s3_server.create_bucket(f"test-{uuid.uuid4().hex[:16]}", object_lock=True)
