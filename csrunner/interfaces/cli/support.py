"""What every `csr` command module shares."""

from __future__ import annotations

import asyncio
from functools import wraps

import click

from csrunner.config.settings import Settings


def run_async(fn=None, *, nothing: str = "started"):
    """asyncio.run, with bad input (a ValueError: nothing `nothing`) or an unreachable Temporal
    as one clear line instead of a traceback. Used as @run_async or @run_async(nothing="sent")."""

    def decorate(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return asyncio.run(fn(*args, **kwargs))
            except ValueError as e:
                raise click.ClickException(f"invalid input, nothing {nothing}:\n{e}") from None
            except RuntimeError as e:
                if "connect" in str(e).lower():
                    raise click.ClickException(
                        f"cannot reach Temporal at {Settings().temporal_address}: {e}"
                    ) from None
                raise

        return wrapper

    return decorate(fn) if fn else decorate
