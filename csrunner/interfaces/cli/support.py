"""What every `csr` command module shares: running coroutines, and turning every error into one
line that says what is wrong and what to do (never a Python traceback)."""

from __future__ import annotations

import asyncio
from functools import wraps

import click
from pydantic import ValidationError
from temporalio.client import WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError, RPCStatusCode

from csrunner.config.settings import ServiceConfig, Settings
from csrunner.config.sourcemap import DefinitionError
from csrunner.config.startup import validation_problems


def describe(e: BaseException) -> str | None:
    """One line (or the positioned lines of a file) for an error a user can act on; None for a
    bug, which then shows as such."""
    if isinstance(e, DefinitionError):
        return str(e)
    if isinstance(e, ValidationError) and e.title in ("Settings", "ServiceConfig"):
        model = Settings if e.title == "Settings" else ServiceConfig
        return "; ".join(validation_problems(e, model))  # a bad environment variable, named
    if isinstance(e, ValidationError):  # e.g. a run that answered with another shape
        first = e.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        return f"unexpected data from {e.title}: field '{where}': {first['msg']}{more}"
    if isinstance(e, RPCError):
        if e.status == RPCStatusCode.NOT_FOUND:
            if "journey:" in e.message:
                return f"not found: {e.message} (no journey yet: `csr deal-closed ACCOUNT_FILE` starts it)"
            return f"not found: {e.message} (check the id; `csr journey ACCOUNT` lists an account's runs)"
        if e.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            return f"cannot reach Temporal at {Settings().temporal_address}: {e.message}"
        return f"Temporal refused: {e.message}"
    if isinstance(e, (WorkflowQueryFailedError, WorkflowQueryRejectedError)):
        return f"the run could not answer: {e}"
    if isinstance(e, RuntimeError) and "connect" in str(e).lower():
        why = "connection refused" if "refused" in str(e).lower() else str(e)[:200]
        return (
            f"cannot reach Temporal at {Settings().temporal_address} ({why}): start it with `csr up`, "
            "or set TEMPORAL_ADDRESS"
        )
    if isinstance(e, OSError):
        return f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}"
    if isinstance(e, (OverflowError, ValueError)):
        return str(e)
    return None


def run_async(fn=None, *, nothing: str = "started"):
    """asyncio.run, with bad input (a ValueError: nothing `nothing`) or an unreachable Temporal
    as one clear line instead of a traceback. Used as @run_async or @run_async(nothing="sent")."""

    def decorate(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return asyncio.run(fn(*args, **kwargs))
            except DefinitionError as e:
                raise click.ClickException(f"nothing {nothing}:\n{e}") from None
            except (ValueError, OverflowError) as e:
                if isinstance(e, ValidationError):
                    raise click.ClickException(describe(e) or str(e)) from None
                raise click.ClickException(f"invalid input, nothing {nothing}:\n{e}") from None

        return wrapper

    return decorate(fn) if fn else decorate


class Commands(click.Group):
    """The `csr` group: any error a command lets through becomes one line (exit 1)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except Exception as e:
            message = describe(e)
            if message is None:
                raise
            raise click.ClickException(message) from None
