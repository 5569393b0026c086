"""What the lifecycle tests share: `csr` as a subprocess with its output in files, a SendGrid
that answers slowly (so a send is in flight when the signal comes), and finding the processes a
stack left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from e2e_helpers import FakeSendGrid
from starlette.requests import Request
from starlette.responses import Response

CSR = str(Path(sys.executable).parent / "csr")


class SlowSendGrid(FakeSendGrid):
    """The fake SendGrid, answering each send after `delay` seconds (the request is recorded on
    arrival, the message once answered)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def _mail_send(self, request: Request, raw: bytes) -> Response:
        await asyncio.sleep(self.delay)
        return await super()._mail_send(request, raw)

    def sends(self) -> int:
        return sum(r.path == "/v3/mail/send" for r in self.requests)


class Csr:
    """`csr ARGS` in its own process group (as a terminal runs a foreground job), stdout and
    stderr in files under `where`."""

    def __init__(self, where: Path, env: dict[str, str], *args: str, name: str = "csr") -> None:
        self.out, self.err = where / f"{name}.out", where / f"{name}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                # no metrics port unless asked: several csr processes share this machine
                [CSR, *args],
                env={**os.environ, "METRICS_PORT": "0", **env},
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    def wait_for_output(self, text: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.out.read_text():
            assert self.proc.poll() is None, f"csr exited {self.proc.returncode}: {self.stderr()}"
            assert time.monotonic() < deadline, f"no {text!r} in: {self.out.read_text()}{self.stderr()}"
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGINT, group: bool = False, timeout: float = 10.0) -> int:
        """Send `sig` (to the whole process group if `group`) and wait: a hang check, not a benchmark."""
        if group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.err.read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains `text` (e.g. a stack's data dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(
                line for line in (entry / "status").read_text().splitlines() if line.startswith("State:")
            )
        except (OSError, StopIteration):
            continue
        if text in cmdline and "zombie" not in state:
            pids.append(int(entry.name))
    return pids
