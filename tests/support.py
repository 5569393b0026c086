"""Helpers for workflow tests: the sample account, a worker pointed at fakes or the outbox,
moving the time-skipping clock, and reading a run's timeline in the account's local time."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from csrunner.config.accounts import load_account, load_team
from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.domain.messages import Action, PlaybookInput, RunView
from workflows.playbook import PlaybookWorkflow

MADRID = ZoneInfo("Europe/Madrid")


def acme():
    return load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))


def catalog():
    return load_catalog(REPO_ROOT / "playbooks", REPO_ROOT / "email_templates")


def settings_for(tmp_path: Path, sendgrid=None, slack=None) -> Settings:
    return Settings(
        data_dir=tmp_path,
        task_queue=f"tq-{uuid.uuid4().hex}",
        sendgrid_api_key="SG.test-key" if sendgrid else "",
        sendgrid_api_host=sendgrid.url if sendgrid else "",
        slack_bot_token="xoxb-test-token" if slack else "",
        slack_api_url=f"{slack.url}/api/" if slack else "",
    )


#: Runs started by the current test; conftest terminates them afterwards, because a run left
#: with timers and no worker stops the shared time-skipping server from skipping time.
STARTED: list = []


async def start(
    env, settings: Settings, playbook: str = "onboarding", account=None, definitions=None, workflow_id=None
):
    account = account or acme()
    handle = await env.client.start_workflow(
        PlaybookWorkflow.run,
        PlaybookInput(
            account=account,
            playbook=playbook,
            definitions=definitions or catalog().bundle(playbook),
            search_attributes=False,
        ),
        id=workflow_id or f"test-{playbook}-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )
    STARTED.append(handle)
    return handle


async def advance_to(env, when: datetime) -> None:
    """Move the test server's clock to `when`, a day at a time (long single sleeps time out)."""
    while (now := await env.get_current_time()) < when:
        await env.sleep(min(when - now, timedelta(days=1)))


def local_day_time(start: datetime, at: datetime) -> tuple[int, str]:
    """(lifecycle day, local HH:MM) in Madrid, counting from the start's local date."""
    s, a = start.astimezone(MADRID), at.astimezone(MADRID)
    return (a.date() - s.date()).days, a.strftime("%H:%M")


def at_local(start: datetime, day: int, hhmm: str) -> datetime:
    s = start.astimezone(MADRID)
    h, m = map(int, hhmm.split(":"))
    return datetime.combine(s.date() + timedelta(days=day), datetime.min.time(), MADRID).replace(
        hour=h, minute=m
    )


async def act(handle, step: str, action: str, actor: str = "maria", **kw) -> RunView:
    return await handle.execute_update(
        PlaybookWorkflow.act, Action(step_id=step, action=action, actor=actor, **kw)
    )


async def view(handle) -> RunView:
    return await handle.query(PlaybookWorkflow.view)


# --- PostgreSQL for tests of the shared ledger (and the fault injection) -----------------------

POSTGRES_MISSING = "PostgreSQL not installed: apt-get install postgresql"


def postgres_bin() -> Path | None:
    """The folder with initdb and pg_ctl: Debian's /usr/lib/postgresql/<version>/bin, or PATH."""
    import shutil

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


class PostgresServer:
    """A throwaway cluster in its own folder (trust auth, user `app`), as the `postgres` user
    when the tests run as root (PostgreSQL refuses to run as root). `with` starts and stops it."""

    def __init__(self, bin_dir: Path):
        import socket
        import tempfile

        self.bin, self.dir = bin_dir, Path(tempfile.mkdtemp(prefix="csr-pg-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql://app@127.0.0.1:{self.port}/postgres"

    def _run(self, command: str) -> None:
        import os
        import subprocess

        if os.geteuid() == 0:
            os.chown(self.dir, *_postgres_ids())
            args = ["su", "postgres", "-s", "/bin/sh", "-c", command]
        else:
            args = ["/bin/sh", "-c", command]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{command!r} failed: {done.stderr.strip() or done.stdout.strip()}")

    def __enter__(self) -> PostgresServer:
        import shlex

        data, log = shlex.quote(str(self.dir / "data")), shlex.quote(str(self.dir / "log"))
        options = shlex.quote(f"-p {self.port} -k {self.dir} -c fsync=off")
        self._run(
            f"{self.bin / 'initdb'} -D {data} -A trust -U app >/dev/null"
            f" && {self.bin / 'pg_ctl'} -D {data} -o {options} -l {log} -w start >/dev/null"
        )
        return self

    def __exit__(self, *exc) -> None:
        import shutil

        try:
            self._run(f"{self.bin / 'pg_ctl'} -D {self.dir / 'data'} -m immediate -w stop >/dev/null")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def new_database(self) -> str:
        """A fresh, empty database on this server: its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url.rsplit("/", 1)[0] + "/" + name


def _postgres_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid
