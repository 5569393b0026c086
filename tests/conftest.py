"""Shared fixtures: Temporal's time-skipping test server (workflow tests) and helpers.
End-to-end tests start the real dev server themselves (tests/e2e)."""

from __future__ import annotations

import pytest
import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from csrunner.services.temporal import test_server_path


@pytest_asyncio.fixture(scope="module")
async def env():
    """One time-skipping server per test module: a run one module leaves behind (a journey's
    plays, an activity cut off mid-flight) cannot lock time for the next module."""
    async with await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path()
    ) as env:
        yield env


@pytest_asyncio.fixture(autouse=True)
async def _terminate_leftover_runs():
    """Terminate what a test started (see support.STARTED) so time keeps skipping for the next."""
    import support

    yield
    while support.STARTED:
        handle = support.STARTED.pop()
        try:
            await handle.terminate(reason="test finished")
        except Exception:  # already completed: nothing to do
            pass


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL for the session (tests/support.PostgresServer). Absent: the test skips,
    except in CI (CI=true), where a missing PostgreSQL is a failure."""
    import os

    import support

    bin_dir = support.postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail(support.POSTGRES_MISSING)
        pytest.skip(support.POSTGRES_MISSING)
    with support.PostgresServer(bin_dir) as server:
        yield server


@pytest.fixture
def database_url(postgres_server):
    """A fresh database for one test: a DATABASE_URL."""
    return postgres_server.new_database()
