"""The body cap bounds memory: `csr serve` (its own process, Temporal unreachable) is sent 200 MB
bodies without a token, with a wrong one and with a good one, declared and chunked; its peak
resident memory (VmHWM) grows by far less than one of them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from e2e_helpers import free_port

from csrunner.config.settings import REPO_ROOT

CSR = str(Path(sys.executable).parent / "csr")
BODY = 200 << 20


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


BLOCK = b"[" + b"1," * (1 << 19)  # 1 MiB of a JSON array that never ends


def flood(url: str, headers: dict, declared: bool) -> int | None:
    """POST BODY bytes; the status, or None when the service closed the connection mid-body."""

    def chunks():
        for _ in range(BODY // len(BLOCK)):
            yield BLOCK

    if declared:
        headers = {**headers, "Content-Length": str(BODY // len(BLOCK) * len(BLOCK))}
    try:
        return httpx.post(url, content=chunks(), headers=headers, timeout=60).status_code
    except httpx.HTTPError:
        return None


@pytest.fixture
def service(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [CSR, "serve", "--port", str(port)],
        env={
            **os.environ,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "TEMPORAL_TIMEOUT": "1",
            "DATA_DIR": str(tmp_path),
            "TEAM_FILE": str(REPO_ROOT / "team.yaml"),
            "DEAL_WEBHOOK_TOKEN": "deal-tok",
            "FEED_TOKEN": "feed-tok",
            "API_TOKENS": "tok-maria:maria",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=5)
            break
        except httpx.HTTPError:
            assert proc.poll() is None and time.monotonic() < deadline, "csr serve did not start"
            time.sleep(0.2)
    yield proc, url
    proc.terminate()
    proc.wait(timeout=20)


def test_200_mb_bodies_do_not_grow_the_service(service):
    proc, url = service
    before = peak_mib(proc.pid)
    json_ = {"Content-Type": "application/json"}
    for path, headers in [
        ("/webhooks/deal-closed", json_),
        ("/api/actions/approve", {**json_, "Authorization": "Bearer wrong"}),
        ("/feeds/scores/batch", {**json_, "Authorization": "Bearer feed-tok"}),  # the 8 MiB cap
        ("/webhooks/hubspot", json_),  # signature checked over the body: read up to the cap
    ]:
        for declared in (True, False):
            status = flood(url + path, headers, declared)
            assert status in (401, 413, None), (path, declared, status)
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 503  # still serving
    grown = peak_mib(proc.pid) - before
    assert grown < 64, f"peak memory grew by {grown:.0f} MiB for 200 MiB bodies"
