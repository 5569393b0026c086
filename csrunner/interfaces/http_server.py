"""uvicorn as `csr up` and `csr serve` run it: SIGINT/SIGTERM are the caller's (see
csrunner.services.shutdown), which asks the server to drain its requests and stop."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import uvicorn


class EmbeddedServer(uvicorn.Server):
    """A uvicorn.Server that installs no signal handlers of its own: they would replace the
    loop's, and re-raise the signal once served (a SIGTERM would then kill the process, not exit 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
