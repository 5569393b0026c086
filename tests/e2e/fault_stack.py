"""The processes the fault-injection run kills: Temporal's dev server (its database in a file, so a
SIGKILL and a restart on the same file lose nothing) and a pool of `csr worker` processes on one
task queue, restarted whenever they exit, as a process manager would. Shared by
tests/e2e/test_faults.py and bench/faults.py."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from csrunner.services.temporal import dev_server_path
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS

CSR = str(Path(sys.executable).parent / "csr")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    """`temporal server start-dev` as a child we can SIGKILL and start again on the same port and file."""

    def __init__(self, db: Path, log: Path) -> None:
        self.db, self.log, self.port = db, log, free_port()
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> Client:
        attrs = [
            a for k in SEARCH_ATTRIBUTE_KEYS for a in ("--search-attribute", f"{k.name}={k._metadata_type}")
        ]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [dev_server_path(), "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
                + ["--port", str(self.port), "--db-filename", str(self.db), "--log-level", "error", *attrs],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return await self.connect()

    async def connect(self, timeout: float = 60.0) -> Client:
        """A client once the server answers (the SDK client reconnects by itself after a restart)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                client = await Client.connect(self.address, data_converter=pydantic_data_converter)
                await client.count_workflows()  # the frontend answers, not just the port
                return client
            except Exception:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(
                        f"the dev server exited ({self.proc.returncode}); see {self.log}"
                    ) from None
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    async def restart(self, down_for: float) -> None:
        self.kill()
        await asyncio.sleep(down_for)
        await self.start()
        self.restarts += 1


class WorkerPool:
    """N `csr worker` processes sharing one DATA_DIR and task queue. `kill_random` SIGKILLs one and
    starts it again; `supervise` restarts any that exit by themselves (counted apart)."""

    def __init__(self, size: int, environ: dict[str, str], logs: Path, seed: int) -> None:
        self.environ, self.logs = environ, logs
        self.random = random.Random(seed)
        self.procs: list[subprocess.Popen] = [self._spawn(i) for i in range(size)]
        self.kills = self.exits = 0

    def _spawn(self, i: int) -> subprocess.Popen:
        with (self.logs / f"worker-{i}.log").open("ab") as out:
            return subprocess.Popen([CSR, "worker"], env=self.environ, stdout=out, stderr=subprocess.STDOUT)

    def kill_random(self) -> None:
        i = self.random.randrange(len(self.procs))
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()
        self.kills += 1
        self.procs[i] = self._spawn(i)

    async def supervise(self) -> None:
        while True:
            for i, p in enumerate(self.procs):
                if p.poll() is not None:
                    self.exits += 1
                    if self.exits > 5 * len(self.procs):
                        tail = (self.logs / f"worker-{i}.log").read_text(errors="replace")[-2000:]
                        raise RuntimeError(
                            f"workers keep exiting by themselves; worker-{i}.log ends:\n{tail}"
                        )
                    self.procs[i] = self._spawn(i)
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()


def worker_environ(
    server: DevServer, queue: str, data: Path, playbooks: Path, sg_url: str, slack_url: str
) -> dict:
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": server.address,
        "TASK_QUEUE": queue,
        "DATA_DIR": str(data),
        "PLAYBOOKS_DIR": str(playbooks),
        "SENDGRID_API_KEY": "SG.test-key",
        "SENDGRID_API_HOST": sg_url,
        "MAIL_FROM": "success@cs.example.com",
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": "fault-injection-signing-secret",
        "SLACK_API_URL": f"{slack_url}/api/",
        "METRICS_PORT": "0",  # three workers on one host: no fixed metrics port to fight over
    }
