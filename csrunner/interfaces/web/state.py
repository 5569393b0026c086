"""What every request shares: settings, the team file, tokens and one lazily connected
Temporal client (reconnected after an outage when the service made it itself)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client

from csrunner.config.accounts import Team, TeamMember, load_team
from csrunner.config.settings import ServiceConfig, Settings
from csrunner.config.sourcemap import DefinitionError
from csrunner.interfaces.web.errors import unavailable
from csrunner.interfaces.web.sessions import Sessions


class Service:
    def __init__(self, settings: Settings, config: ServiceConfig, client: Client | None):
        self.settings, self.config = settings, config
        self._client, self._owns_client = client, client is None
        self._lock = asyncio.Lock()
        self.queries = asyncio.Semaphore(16)  # concurrent `view` queries (the inbox lists many runs)
        self.sessions = Sessions()  # the inbox's, server-side
        self._team: Team | None = None
        self._team_mtime: float | None = None

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                from csrunner.services.temporal import connect

                try:
                    async with asyncio.timeout(self.config.temporal_timeout):
                        self._client = await connect(self.settings)
                except (RuntimeError, OSError, TimeoutError) as e:
                    raise unavailable(
                        f"cannot connect to {self.settings.temporal_address}: "
                        f"{str(e)[:200] or type(e).__name__}"
                    ) from None
        return self._client

    def drop_client(self) -> None:
        """After an outage, connect afresh on the next request (only a client we made)."""
        if self._owns_client:
            self._client = None

    # --- people --------------------------------------------------------------------------
    @property
    def team(self) -> Team:
        """team.yaml, re-read when ops edit it (a broken edit keeps the last good team)."""
        path = Path(self.settings.team_file)
        mtime = path.stat().st_mtime if path.is_file() else None
        if self._team is None or mtime != self._team_mtime:
            try:
                self._team = load_team(path)
            except DefinitionError:
                self._team = self._team or Team()
            self._team_mtime = mtime
        return self._team

    def person(self, pid: str) -> TeamMember | None:
        return self.team.get(pid)

    def by_email(self, email: str) -> TeamMember | None:
        return next((p for p in self.team.people if p.email.lower() == email.lower()), None)

    def by_slack(self, slack_user: str) -> TeamMember | None:
        return next((p for p in self.team.people if slack_user and p.slack_user == slack_user), None)

    def name(self, pid: str) -> str:
        """Timeline actors are person ids, or 'playbook' / 'deadline': show names when known."""
        p = self.person(pid)
        return p.name if p else pid
