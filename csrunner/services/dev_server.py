"""Temporal's dev server as `csr up`'s child: checked ports, one owner per database file, its own
session (a terminal's Ctrl-C reaches `csr` only, which stops it last), and a client connected to
this child and no other server."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import fcntl
import os
import signal
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter

HOST = "127.0.0.1"


class StackError(Exception):
    """Why the stack cannot start or went down: one line for the user."""


def busy_port(ports: Iterable[int], host: str = HOST) -> int | None:
    """The first port something already listens on (bound as a server would: SO_REUSEADDR, so a
    port left in TIME_WAIT by the last run counts as free)."""
    for port in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    return port
                raise
    return None


def lock_database(db: Path) -> IO[str]:
    """Hold DB.lock for as long as the returned file stays open: a second `csr up` on the same
    DATA_DIR (on other ports) is refused instead of sharing the database file."""
    lock = open(db.with_name(db.name + ".lock"), "a+", encoding="utf-8")  # noqa: SIM115 (held open)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        lock.close()
        raise StackError(
            f"{db} is in use by {holder} (is another csr up running on this DATA_DIR?)"
        ) from None
    lock.truncate(0)
    lock.write(f"csr up (pid {os.getpid()})\n")
    lock.flush()
    return lock


async def start(
    binary: str,
    port: int,
    ui_port: int,
    db: Path,
    log: Path,
    search_attributes: Sequence[SearchAttributeKey],
) -> asyncio.subprocess.Process:
    """`temporal server start-dev` in a new session, its output in `log`."""
    args = ["server", "start-dev", "--ip", HOST, "--port", str(port), "--ui-port", str(ui_port)]
    args += ["--db-filename", str(db), "--log-level", "warn"]
    for key in search_attributes:
        args += ["--search-attribute", f"{key.name}={key._metadata_type}"]
    with open(log, "wb") as out:
        return await asyncio.create_subprocess_exec(
            binary,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_stop_with_parent if sys.platform == "linux" else None,
        )


def _stop_with_parent() -> None:
    """In the child, before exec: SIGTERM when `csr` dies, even by SIGKILL (no orphaned server)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


async def connect_to_child(
    child: asyncio.subprocess.Process, port: int, log: Path, timeout: float = 60.0
) -> Client:
    """A client of `child` once it answers. The ports were free before it started, so what
    answers on `port` while it runs is this child; if it exits first, say why from its log."""
    deadline = time.monotonic() + timeout
    while True:
        if child.returncode is not None:
            raise StackError(f"the Temporal dev server exited (status {child.returncode}): {last_line(log)}")
        try:
            client = await Client.connect(f"{HOST}:{port}", data_converter=pydantic_data_converter)
            await client.service_client.check_health()
            return client
        except RuntimeError:  # not listening yet
            if time.monotonic() > deadline:
                raise StackError(
                    f"the Temporal dev server did not answer within {timeout:.0f} s; see {log}"
                ) from None
            await asyncio.sleep(0.2)


async def stop(child: asyncio.subprocess.Process, timeout: float = 5.0) -> None:
    """SIGTERM to the child's session, SIGKILL if it is not gone within `timeout` seconds."""
    if child.returncode is not None:
        return
    kill(child, signal.SIGTERM)
    try:
        await asyncio.wait_for(child.wait(), timeout)
    except TimeoutError:
        kill(child, signal.SIGKILL)
        await child.wait()


def kill(child: asyncio.subprocess.Process, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:  # already gone
        pass


def last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    return lines[-1][:300] if lines else f"no output (see {log})"
