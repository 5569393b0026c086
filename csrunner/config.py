"""Settings from the environment, in one place. Empty keys/tokens mean: use the local outbox."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TASK_QUEUE_DEFAULT = "cs-playbooks"
SEARCH_ATTRIBUTES = {"AccountId": "Keyword", "CsmId": "Keyword", "Playbook": "Keyword",
                     "PendingStep": "Keyword", "Band": "Keyword"}


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    temporal_address: str = field(default_factory=lambda: _env("TEMPORAL_ADDRESS", "127.0.0.1:7233"))
    temporal_namespace: str = field(default_factory=lambda: _env("TEMPORAL_NAMESPACE", "default"))
    task_queue: str = field(default_factory=lambda: _env("TASK_QUEUE", TASK_QUEUE_DEFAULT))
    data_dir: Path = field(default_factory=lambda: Path(_env("DATA_DIR", str(REPO_ROOT / "data"))))
    playbooks_dir: Path = field(default_factory=lambda: Path(_env("PLAYBOOKS_DIR", str(REPO_ROOT / "playbooks"))))
    templates_dir: Path = field(
        default_factory=lambda: Path(_env("TEMPLATES_DIR", str(REPO_ROOT / "email_templates"))))
    team_file: Path = field(default_factory=lambda: Path(_env("TEAM_FILE", str(REPO_ROOT / "team.yaml"))))
    sendgrid_api_key: str = field(default_factory=lambda: _env("SENDGRID_API_KEY"))
    sendgrid_api_host: str = field(default_factory=lambda: _env("SENDGRID_API_HOST", "https://api.sendgrid.com"))
    mail_from: str = field(default_factory=lambda: _env("MAIL_FROM", "success@example.com"))
    mail_from_name: str = field(default_factory=lambda: _env("MAIL_FROM_NAME", "Customer Success"))
    slack_bot_token: str = field(default_factory=lambda: _env("SLACK_BOT_TOKEN"))
    slack_api_url: str = field(default_factory=lambda: _env("SLACK_API_URL", "https://slack.com/api/"))

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"
