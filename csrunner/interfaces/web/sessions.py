"""Server-side inbox sessions: the cookie holds a random session id, never the API token.
Signing out revokes the session; removing a person's token from API_TOKENS ends their sessions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

LIFETIME = 12 * 3600  # seconds a session lasts after sign-in
MAX_SESSIONS = 10_000  # the oldest go first past this: a flood of sign-ins cannot grow memory


@dataclass(frozen=True)
class Session:
    person_id: str
    token_digest: bytes  # the token it was opened with, hashed: a rotated token ends it
    expires: float


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Sessions:
    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}
        self._key = secrets.token_bytes(32)

    def open(self, person_id: str, token: str) -> str:
        now = time.time()
        for sid in [s for s, v in self._by_id.items() if v.expires < now]:
            del self._by_id[sid]
        while len(self._by_id) >= MAX_SESSIONS:
            del self._by_id[next(iter(self._by_id))]
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = Session(person_id, digest(token), now + LIFETIME)
        return sid

    def get(self, sid: str) -> Session | None:
        s = self._by_id.get(sid) if sid else None
        if s is not None and s.expires < time.time():
            self._by_id.pop(sid, None)
            return None
        return s

    def revoke(self, sid: str) -> None:
        self._by_id.pop(sid, None)

    def csrf(self, sid: str) -> str:
        """The form token of a session (a cross-site page cannot know it)."""
        return hmac.new(self._key, sid.encode(), hashlib.sha256).hexdigest()[:32]
