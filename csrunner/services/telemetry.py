"""Logging and the Temporal SDK's telemetry of a process, set up once at its start (`csr worker`,
`csr serve`, `csr up`): one logging configuration for our lines and the SDK's, the Rust core's
included (forwarded instead of written to the console in colour), and the Prometheus endpoint the
SDK serves, which the product's worker-side metrics (activities/metrics.py) share."""

from __future__ import annotations

import logging
import sys

from temporalio import activity, workflow
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from csrunner.config.settings import Settings
from csrunner.services.log_format import JsonFormatter, TextFormatter

#: Libraries that say too much at INFO (every HTTP call, every poll).
QUIET = ("httpx", "httpcore", "urllib3", "python_http_client")


def configure_logging(settings: Settings, metrics_port: int = 0) -> Runtime:
    """Our logging on stderr (LOG_FORMAT text or json, LOG_LEVEL), and the default Temporal
    runtime that every client of this process is built on: its core's log lines go through the
    same logging, and with `metrics_port` it serves /metrics on METRICS_HOST:metrics_port (both
    the SDK's metrics and the product's worker-side ones). A port in use is a ValueError naming it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # the formatters show the ids; the SDK would also append them to the message text
    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False
    runtime = temporal_runtime(settings, metrics_port)
    Runtime.set_default(runtime, error_if_already_set=False)
    return runtime


def temporal_runtime(settings: Settings, metrics_port: int = 0) -> Runtime:
    """A runtime forwarding the core's logs, serving metrics on `metrics_port` (0: none)."""
    try:
        return Runtime(telemetry=telemetry_config(settings, metrics_port))
    except ValueError as e:
        raise ValueError(
            f"METRICS_PORT={metrics_port}: cannot serve metrics on {settings.metrics_host}:{metrics_port} "
            f"({e}); set METRICS_PORT to a free port, or 0 for none"
        ) from None


def telemetry_config(settings: Settings, metrics_port: int = 0) -> TelemetryConfig:
    core_level = "INFO" if settings.log_level == "DEBUG" else "WARN"
    forwarding = LogForwardingConfig(logger=logging.getLogger("temporalio.core"), append_target_to_name=False)
    return TelemetryConfig(
        logging=LoggingConfig(
            filter=TelemetryFilter(core_level=core_level, other_level="ERROR"), forwarding=forwarding
        ),
        metrics=prometheus(settings.metrics_host, metrics_port) if metrics_port else None,
    )


def prometheus(host: str, port: int) -> PrometheusConfig:
    # `_total` on counters, as Prometheus names them (csr_messages_total, temporal_request_total)
    return PrometheusConfig(bind_address=f"{host}:{port}", counters_total_suffix=True)
