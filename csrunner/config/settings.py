"""Every setting, read from the environment in this one place (pydantic-settings) and passed down.

Nothing else reads `os.environ` and nothing writes it: the embedded stack builds its settings with
overrides (`Settings(data_dir=..., temporal_address=...)`). Empty keys/tokens mean the local outbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import Field, field_validator, model_validator
from pydantic.networks import validate_email
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from csrunner.domain.values import TimeZoneName


def _project_root(module: Path = Path(__file__)) -> Path:
    """The source checkout (editable install, tests); else, for a plain install that keeps no
    playbooks beside the code (the Docker image), the working directory."""
    here = module.resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


REPO_ROOT = _project_root()
TASK_QUEUE_DEFAULT = "cs-playbooks"
DEFAULT_SCORING_MODEL = "seed004.yaml"  # SPEC §4: seed 004's rubric is the default model
#: The outbox's From address when MAIL_FROM is unset (SendGrid needs MAIL_FROM: refused without it).
OUTBOX_SENDER = "success@example.com"


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
    #: The sender; required with SENDGRID_API_KEY (empty: the outbox writes OUTBOX_SENDER).
    mail_from_address: str = Field("", validation_alias="MAIL_FROM")
    mail_from_name: str = "Customer Success"
    slack_bot_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    #: Force (1) or skip (0) publishing journey search attributes; unset: ask the server once.
    journey_search_attributes: Optional[bool] = None
    #: 1: run workflow code in Temporal's sandbox (slower; it re-imports workflow modules per run).
    workflow_sandbox: bool = False
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

    # --- deploy: Temporal Cloud or a secured cluster (PEM file paths; an API key implies TLS)
    temporal_tls_cert: Optional[Path] = None
    temporal_tls_key: Optional[Path] = None
    #: The server's CA, when it is not in the system's trust store (a self-hosted cluster).
    temporal_tls_ca: Optional[Path] = None
    #: The name the server's certificate is checked against (SNI), when it differs from the host.
    temporal_tls_server_name: str = ""
    temporal_api_key: str = ""

    # --- observability: metrics and logs -------------------------------------------------------
    #: The worker's Prometheus endpoint (/metrics: the SDK's metrics and the product's); 0: none.
    metrics_port: int = Field(9464, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"
    #: "text" (readable, the default) or "json" (one object per line, ids but no personal data).
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    # --- lifecycle: graceful shutdown on SIGTERM/SIGINT
    #: Seconds running activities get to finish after a worker is told to stop (then cancelled).
    worker_shutdown_grace: float = Field(10.0, ge=0)
    #: Seconds the HTTP service gives in-flight requests to finish when told to stop.
    http_shutdown_grace: int = Field(10, ge=0)

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("temporal_tls_cert", "temporal_tls_key", "temporal_tls_ca", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def mail_from(self) -> str:
        return self.mail_from_address or OUTBOX_SENDER

    def startup_problems(self) -> list[str]:
        """Settings that make a configured feature fail, one line each naming the variable: the
        worker and the service refuse to start on any (see csrunner/config/startup.py)."""
        problems = []
        if self.sendgrid_api_key and not self.mail_from_address:
            problems.append("SENDGRID_API_KEY is set but MAIL_FROM is not: SendGrid needs a sender address")
        if self.mail_from_address:
            try:
                validate_email(self.mail_from_address)
            except ValueError:
                problems.append(f"MAIL_FROM: {self.mail_from_address!r} is not an email address")
        if self.database_url:
            from csrunner.config.database import check_database_url  # psycopg: only when configured

            problem = check_database_url(self.database_url)
            problems += [problem] if problem else []
        cert, key = self.temporal_tls_cert, self.temporal_tls_key
        if bool(cert) != bool(key):
            have, missing = ("CERT", "KEY") if cert else ("KEY", "CERT")
            problems.append(
                f"TEMPORAL_TLS_{have} is set but TEMPORAL_TLS_{missing} is not: a client certificate "
                "and its private key go together"
            )
        for name, path in (("CERT", cert), ("KEY", key), ("CA", self.temporal_tls_ca)):
            if path and (why := unreadable(path)):
                problems.append(f"TEMPORAL_TLS_{name}: cannot read {path}: {why}")
        return problems

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


def unreadable(path: Path) -> str:
    """Why a file cannot be read ('' when it can): checked at startup, before connecting."""
    try:
        with open(path, "rb"):
            return ""
    except IsADirectoryError:
        return "it is a directory"
    except OSError as e:
        return e.strerror or str(e)


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

    def startup_problems(self, settings: Settings | None = None) -> list[str]:
        """Settings that make a configured feature fail: said once, at startup. With the
        worker-side `settings`, also the pairs that span both (Slack's token and secret)."""
        problems = []
        if settings and settings.slack_bot_token and not self.slack_signing_secret:
            problems.append(
                "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not: the approval buttons Slack "
                "posts to /slack/interactions cannot be verified"
            )
        if self.hubspot_client_secret and not self.hubspot_access_token:
            problems.append(
                "HUBSPOT_CLIENT_SECRET is set but HUBSPOT_ACCESS_TOKEN is not: HubSpot deals cannot be "
                "read, and the HubSpot webhook answers 503 until it is set"
            )
        return problems
