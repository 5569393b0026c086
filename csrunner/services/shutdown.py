"""Stopping on SIGINT/SIGTERM the same way in every long-running command (`csr up`, `csr worker`,
`csr serve`): the first signal starts a graceful stop, a second one exits at once; and leaving the
process without Python's finalization, during which the Temporal core runtime's threads may still
call into Python and abort it ('Fatal Python error: PyGILState_Release', exit 134)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_stop_signals(stop: Callable[[], None], force: Callable[[], None] | None = None) -> None:
    """In the running loop: call `stop` on the first SIGINT or SIGTERM; on the next, call `force`
    (if given) and exit at once with 128 + the signal's number, as a shell reports it."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def handle(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            stop()
            return
        if force:
            force()
        print("stopped at once (second signal)", file=sys.stderr, flush=True)
        exit_now(128 + signum)

    for s in STOP_SIGNALS:
        loop.add_signal_handler(s, handle, s)


def exit_now(code: int) -> NoReturn:
    """Flush what was printed, then end the process without finalization (see the module doc)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to say
            pass
    os._exit(code)


def run_and_exit(main: Callable[[], Coroutine[Any, Any, object]]) -> NoReturn:
    """asyncio.run(main()), then exit_now with its status: for entry points other than `csr`
    (e.g. `python worker.py`), which would otherwise end in Python's finalization."""
    code = 0
    try:
        asyncio.run(main())
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 (reported as Python would, then the same clean exit)
        traceback.print_exc()
        code = 1
    exit_now(code)
