"""Peak memory of `csr up` after large unauthenticated bodies (issue 10: limits before work).

    .venv/bin/python bench/body_rss.py [--mib 200] [--path /webhooks/deal-closed /api/actions/approve]

Starts `csr up` on free ports with a fresh DATA_DIR, waits for /healthz, reads the process's
VmHWM (peak RSS), posts MIB MiB of JSON-ish bytes without a token to each path (streamed, with a
Content-Length, then again chunked without one), and reads VmRSS / VmHWM again."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mem(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(line.split()[1]) / 1024
    return out


def chunks(total: int, size: int = 1 << 20):
    block = b"[" + b"1," * (size // 2 - 1)
    sent = 0
    while sent < total:
        part = block[: min(size, total - sent)]
        sent += len(part)
        yield part


def post(url: str, total: int, with_length: bool) -> str:
    headers = {"Content-Type": "application/json"}
    if with_length:
        headers["Content-Length"] = str(total)
    try:
        r = httpx.post(url, content=chunks(total), headers=headers, timeout=120)
        return f"{r.status_code} {r.text[:120]}"
    except httpx.HTTPError as e:  # the server may close the connection once it has answered
        return f"{type(e).__name__}: {e}"


def main(mib: int, paths: list[str]) -> None:
    data = Path(tempfile.mkdtemp())
    port, ui, http = free_port(), free_port(), free_port()
    csr = str(Path(sys.executable).parent / "csr")
    proc = subprocess.Popen(
        [
            csr,
            "up",
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--ui-port",
            str(ui),
            "--http-port",
            str(http),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "METRICS_PORT": "0"},
    )
    base = f"http://127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("csr up did not come up")
            time.sleep(0.5)
        time.sleep(2)
        print(f"csr up pid {proc.pid} idle: {mem(proc.pid)}")
        for path in paths:
            for with_length in (True, False):
                answer = post(base + path, mib << 20, with_length)
                how = "Content-Length" if with_length else "chunked"
                print(f"POST {path} {mib} MiB ({how}) → {answer}")
                print(f"  after: {mem(proc.pid)}")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--path", nargs="+", default=["/webhooks/deal-closed", "/api/actions/approve"])
    args = parser.parse_args()
    main(args.mib, args.path)
