"""The startup gate of `csr worker`, `csr serve` and `csr up`: the settings from the environment,
or every problem with them as one line naming the variable (no traceback), before connecting."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from csrunner.config.settings import ServiceConfig, Settings

T = TypeVar("T")
S = TypeVar("S", bound=BaseSettings)


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def env_name(model: type[BaseSettings], field: str) -> str:
    """The environment variable a settings field is read from."""
    info = model.model_fields.get(field)
    alias = info.validation_alias if info else None
    return alias.upper() if isinstance(alias, str) else field.upper()


def env_names(model: type[BaseSettings]) -> list[str]:
    return [env_name(model, f) for f in model.model_fields]


def validation_problems(e: ValidationError, model: type[BaseSettings]) -> list[str]:
    """One line per invalid value, naming its variable; the value itself is never repeated
    (it may be a secret)."""
    lines = []
    for err in e.errors(include_url=False):
        field = str(err["loc"][0]) if err["loc"] else ""
        name = env_name(model, field) if field else model.__name__
        msg = err["msg"]
        lines.append(f"{name}: {msg[:1].lower()}{msg[1:]}")
    return lines


def _load(model: type[S]) -> tuple[S | None, list[str]]:
    try:
        return model(), []
    except ValidationError as e:
        return None, validation_problems(e, model)
    except SettingsError as e:  # a value the environment source itself could not parse
        return None, [str(e)]


def worker_settings() -> Settings:
    """The worker's settings, or ConfigError with every problem."""
    settings, problems = _load(Settings)
    if settings:
        problems += settings.startup_problems()
    if problems or settings is None:
        raise ConfigError(problems)
    return settings


def service_settings() -> tuple[Settings, ServiceConfig]:
    """The HTTP service's settings (both objects), or ConfigError with every problem of both."""
    settings, problems = _load(Settings)
    config, config_problems = _load(ServiceConfig)
    if settings:
        problems += settings.startup_problems()
    problems += config_problems
    if config:
        problems += config.startup_problems(settings)
    if problems or settings is None or config is None:
        raise ConfigError(problems)
    return settings, config


def stack_settings() -> Settings:
    """`csr up`: the worker's checks, and the service's values well-formed (its feature checks
    are warnings in the embedded stack's banner)."""
    settings, problems = _load(Settings)
    if settings:
        problems += settings.startup_problems()
    problems += _load(ServiceConfig)[1]
    if problems or settings is None:
        raise ConfigError(problems)
    return settings


def or_exit(load: Callable[[], T]) -> T:
    """`load()`, or `error: <line>` on stderr per problem and exit status 1."""
    try:
        return load()
    except ConfigError as e:
        for problem in e.problems:
            print(f"error: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
