"""Every setting, read from the environment in this one place (pydantic-settings) and passed down.

Nothing else reads `os.environ` and nothing writes it: the embedded stack builds its settings with
overrides (`Settings(data_dir=..., temporal_address=...)`). Empty keys/tokens mean the local outbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from csrunner.domain.values import TimeZoneName

REPO_ROOT = Path(__file__).resolve().parents[2]
TASK_QUEUE_DEFAULT = "cs-playbooks"
DEFAULT_SCORING_MODEL = "seed004.yaml"  # SPEC §4: seed 004's rubric is the default model


class Settings(BaseSettings):
    """The worker's, the CLI's and the activities' settings."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = TASK_QUEUE_DEFAULT
    data_dir: Path = REPO_ROOT / "data"
    playbooks_dir: Path = REPO_ROOT / "playbooks"
    templates_dir: Path = REPO_ROOT / "email_templates"
    team_file: Path = REPO_ROOT / "team.yaml"
    sendgrid_api_key: str = ""
    sendgrid_api_host: str = "https://api.sendgrid.com"
    mail_from: str = "success@example.com"
    mail_from_name: str = "Customer Success"
    slack_bot_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    #: Force (1) or skip (0) publishing journey search attributes; unset: ask the server once.
    journey_search_attributes: Optional[bool] = None
    # --- the shared store (issue 12, ledger) ---
    #: postgresql://user:password@host:5432/dbname: the sent ledger every worker host shares;
    #: empty: SQLite in DATA_DIR (one host). Checked by csrunner.config.database.check_database_url.
    database_url: str = ""

    # --- HubSpot deal intake (the worker reads closed-won deals; the service only starts intakes)
    hubspot_api_url: str = "https://api.hubapi.com"
    hubspot_access_token: str = ""
    hubspot_role_property: str = Field("hs_buying_role", validation_alias="HUBSPOT_CONTACT_ROLE_PROPERTY")
    hubspot_timezone_property: str = "timezone"
    hubspot_locale_property: str = "hs_language"
    #: The zone of an account whose HubSpot company has an unknown one (the intake's result notes it).
    hubspot_default_timezone: TimeZoneName = "UTC"
    #: Seconds one CRM read may take before the attempt counts as HubSpot being down (retried).
    hubspot_read_timeout: float = 10.0
    #: Person id used as CSM when the deal owner is not in the team file (empty: a task instead),
    #: and who gets the task when a deal cannot become an account (empty: the team's manager).
    default_csm: str = ""

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def scoring_model_path(self) -> Path:
        return self.playbooks_dir / "scoring" / DEFAULT_SCORING_MODEL

    @property
    def facts_path(self) -> Path:
        """The account facts schema (issue 11), next to the scoring models."""
        return self.playbooks_dir / "scoring" / "facts.yaml"


def parse_tokens(text: str) -> dict[str, str]:
    """API_TOKENS="tok1:maria,tok2:carlos" → {token: person id}. Blank entries are ignored."""
    out: dict[str, str] = {}
    for item in text.replace("\n", ",").split(","):
        token, sep, person = item.strip().partition(":")
        if sep and token.strip() and person.strip():
            out[token.strip()] = person.strip()
    return out


class ServiceConfig(BaseSettings):
    """The HTTP service's own settings (webhooks, tokens, HubSpot), beside `Settings`."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    #: Also read by the worker (Settings); here only to refuse deals the worker could not read.
    hubspot_access_token: str = ""
    hubspot_client_secret: str = ""
    #: Dealstage ids that mean closed-won (every pipeline has its own), comma-separated.
    hubspot_closed_won_stages: Annotated[tuple[str, ...], NoDecode] = ("closedwon",)
    #: The public URL HubSpot calls, when a proxy changes what the service sees (signatures cover it).
    hubspot_webhook_url: str = ""
    #: Seconds a HubSpot batch may take, all its deals' intakes started at once: HubSpot waits 5 s.
    hubspot_timeout: float = 4.5
    deal_webhook_token: str = ""
    #: Token for the health-score feed and the survey tool (ops bearer tokens work too).
    feed_token: str = ""
    slack_signing_secret: str = ""
    #: "token:person" pairs, comma-separated; API_TOKENS_FILE adds one pair per line.
    api_tokens: Annotated[dict[str, str], NoDecode] = {}
    api_tokens_file: Optional[Path] = None
    #: Longest a request waits on Temporal before answering 503 (the sender retries).
    temporal_timeout: float = 8.0
    #: Longest the inbox dashboard gathers its report (a query per journey and open run).
    report_timeout: float = 120.0
    #: Secure cookies for the inbox (set when served over https).
    inbox_secure_cookies: bool = False
    #: Largest request body (413 beyond, checked before reading); feed batches get the second.
    max_body_bytes: int = 256 * 1024
    max_batch_body_bytes: int = 8 * 1024 * 1024

    @model_validator(mode="before")
    @classmethod
    def _parse_lists(cls, data: dict) -> dict:
        if isinstance(data, dict):
            data = dict(data)
            stages = data.get("hubspot_closed_won_stages")
            if isinstance(stages, str):
                data["hubspot_closed_won_stages"] = tuple(s.strip() for s in stages.split(",") if s.strip())
            tokens = data.get("api_tokens")
            if isinstance(tokens, str):
                data["api_tokens"] = parse_tokens(tokens)
        return data

    @model_validator(mode="after")
    def _read_token_file(self) -> ServiceConfig:
        path = self.api_tokens_file
        if path and path.is_file():  # lets ops rotate tokens without touching the environment
            merged = {**self.api_tokens, **parse_tokens(path.read_text(encoding="utf-8"))}
            object.__setattr__(self, "api_tokens", merged)
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.inbox_secure_cookies

    def body_limit(self, path: str) -> int:
        return self.max_batch_body_bytes if path.endswith("/batch") else self.max_body_bytes

    def startup_problems(self) -> list[str]:
        """Settings that make a configured feature fail: said once, at startup."""
        problems = []
        if self.hubspot_client_secret and not self.hubspot_access_token:
            problems.append(
                "HUBSPOT_CLIENT_SECRET is set but HUBSPOT_ACCESS_TOKEN is not: HubSpot deals cannot be "
                "read, and the HubSpot webhook answers 503 until it is set"
            )
        return problems
