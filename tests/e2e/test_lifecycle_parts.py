"""The parts `csr up` stops and refuses with, without a Temporal server: busy ports, one owner per
database file, a dev server that dies while starting, and a second signal that exits at once."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
from e2e_helpers import free_port

from csrunner.services import dev_server
from csrunner.services.dev_server import StackError, busy_port


def test_busy_port_names_the_first_port_in_use():
    free = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        assert busy_port([free, busy]) == busy
    assert busy_port([free]) is None


def test_a_second_stack_on_the_same_database_is_refused(tmp_path):
    db = tmp_path / "temporal.db"
    held = dev_server.lock_database(db)
    with pytest.raises(StackError, match=r"temporal.db is in use by csr up \(pid \d+\)"):
        dev_server.lock_database(db)
    held.close()
    dev_server.lock_database(db).close()  # free again once the first one let go


async def test_a_dev_server_that_dies_while_starting_is_reported_with_its_last_line(tmp_path):
    log = tmp_path / "temporal.log"
    with open(log, "wb") as out:
        child = await asyncio.create_subprocess_exec(
            "sh", "-c", "echo starting; echo 'database is locked'; exit 3", stdout=out, stderr=out
        )
    with pytest.raises(StackError, match=r"exited \(status 3\): database is locked"):
        await dev_server.connect_to_child(child, free_port(), log)


def test_second_signal_exits_at_once_after_the_first_started_the_stop():
    script = textwrap.dedent(
        """
        import asyncio
        from csrunner.services.shutdown import on_stop_signals

        async def main():
            on_stop_signals(lambda: print("stopping", flush=True))
            print("ready", flush=True)
            await asyncio.sleep(60)  # a stop that never finishes

        asyncio.run(main())
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout and proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    assert proc.stdout.readline() == "stopping\n"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 128 + signal.SIGINT
    assert proc.stderr and proc.stderr.read() == "stopped at once (second signal)\n"
