"""docker-compose.yml, .env.example and the README's variables table, checked against the code they
deploy (Docker is not available here, so the wiring is what can be tested): addresses, environment
variables against the settings, search attributes against the workflows, volumes, health checks,
restart policies, and that the commands exist."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner
from temporalio.common import SearchAttributeIndexedValueType as Indexed

from csrunner.config.settings import REPO_ROOT, ServiceConfig, Settings
from csrunner.config.startup import env_names
from csrunner.interfaces.cli.main import main
from csrunner.interfaces.web.app import create_app
from workflows.search_attributes import ALL

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict = COMPOSE["services"]
ENV_EXAMPLE = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
INIT_SQL = (REPO_ROOT / "deploy" / "postgres-init.sql").read_text(encoding="utf-8")
SETUP_SH = (REPO_ROOT / "deploy" / "temporal-setup.sh").read_text(encoding="utf-8")
APP = ("worker", "service")
LONG_RUNNING = ("postgresql", "temporal", "temporal-ui", "worker", "service")
FIELDS = set(env_names(Settings)) | set(env_names(ServiceConfig))
#: The temporal CLI's name for each indexed value type (`search-attribute create --type`).
CLI_TYPE = {
    Indexed.TEXT: "Text",
    Indexed.KEYWORD: "Keyword",
    Indexed.INT: "Int",
    Indexed.DOUBLE: "Double",
    Indexed.BOOL: "Bool",
    Indexed.DATETIME: "Datetime",
    Indexed.KEYWORD_LIST: "KeywordList",
}


def interpolated(value: str) -> str:
    """A compose value as it would run with a .env that sets the required passwords."""
    value = re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", value)
    return re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: f"{m.group(1).lower()}0", value)


def compose_variables() -> set[str]:
    return set(re.findall(r"\$\{(\w+)", (REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8")))


def env_example_names() -> list[str]:
    return re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE, flags=re.MULTILINE)


def healthcheck_text(service: str) -> str:
    test = SERVICES[service]["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def test_every_service_runs_a_published_image_or_the_app_build():
    assert set(SERVICES) == {"postgresql", "temporal", "setup", "temporal-ui", "worker", "service"}
    assert SERVICES["postgresql"]["image"] == "postgres:16"
    for name, repo in (("temporal", "auto-setup"), ("setup", "admin-tools"), ("temporal-ui", "ui")):
        image, _, tag = SERVICES[name]["image"].partition(":")
        assert image == f"temporalio/{repo}" and tag and tag != "latest", name
    for name in APP:
        assert SERVICES[name]["build"] == "." and (REPO_ROOT / "Dockerfile").is_file()
        assert SERVICES[name]["image"] == SERVICES["worker"]["image"]  # one image, built once
        assert SERVICES[name]["env_file"] == [".env"]


@pytest.mark.parametrize("name", APP)
def test_the_app_commands_are_csr_subcommands_with_those_options(name):
    command = SERVICES[name]["command"]
    assert command[0] == "csr"
    assert 'csr = "csrunner.interfaces.cli.main:run"' in (REPO_ROOT / "pyproject.toml").read_text()
    done = CliRunner().invoke(main, [*command[1:], "--help"])  # an unknown option fails here
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"Usage: main {command[1]} ")


@pytest.mark.parametrize("name", APP)
def test_the_app_environment_names_only_real_settings(name):
    unknown = set(SERVICES[name]["environment"]) - FIELDS
    assert not unknown, f"not a Settings/ServiceConfig field: {unknown}"


def test_env_example_lists_every_setting_and_only_real_ones():
    names = env_example_names()
    assert len(names) == len(set(names)), "a variable listed twice"
    unknown = set(names) - FIELDS - compose_variables()
    assert not unknown, f"neither a setting nor used by docker-compose.yml: {unknown}"
    assert set(names) >= FIELDS, f"missing from .env.example: {(FIELDS) - set(names)}"
    assert compose_variables() <= set(names), "a ${VAR} of docker-compose.yml missing from .env.example"


def test_env_example_as_given_is_valid_and_has_every_secret_empty(tmp_path):
    assigned = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE, flags=re.MULTILINE))
    assert assigned and all(value == "" for value in assigned.values())
    env = tmp_path / ".env"
    env.write_text(ENV_EXAMPLE, encoding="utf-8")
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.startup_problems() == []
    assert ServiceConfig(_env_file=env).startup_problems(settings) == []  # type: ignore[call-arg]


def test_every_client_of_temporal_dials_the_temporal_service():
    temporal = SERVICES["temporal"]
    assert any(str(p).endswith(":7233") for p in temporal["ports"])
    assert "--address temporal:7233" in healthcheck_text("temporal")
    for name in (*APP, "setup", "temporal-ui"):
        assert SERVICES[name]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233", name
    namespaces = {
        interpolated(SERVICES[n]["environment"][k])
        for n, k in (("temporal", "DEFAULT_NAMESPACE"), ("setup", "TEMPORAL_NAMESPACE"))
    }
    namespaces |= {interpolated(SERVICES[n]["environment"]["TEMPORAL_NAMESPACE"]) for n in APP}
    assert namespaces == {Settings.model_fields["temporal_namespace"].default}


def test_temporal_keeps_persistence_and_visibility_in_postgresql():
    env, pg = SERVICES["temporal"]["environment"], SERVICES["postgresql"]["environment"]
    assert env["DB"] == "postgres12" and env["POSTGRES_SEEDS"] == "postgresql"
    assert env["DB_PORT"] == "5432" and env["POSTGRES_USER"] == pg["POSTGRES_USER"]
    assert env["POSTGRES_PWD"] == pg["POSTGRES_PASSWORD"]
    assert env["DBNAME"] != env["VISIBILITY_DBNAME"]
    assert SERVICES["temporal"]["depends_on"]["postgresql"] == {"condition": "service_healthy"}


def test_the_ledger_database_is_the_one_the_init_script_creates():
    role = re.search(r"^CREATE ROLE (\w+) LOGIN PASSWORD :'(\w+)';$", INIT_SQL, flags=re.MULTILINE)
    database = re.search(r"^CREATE DATABASE (\w+) OWNER (\w+);$", INIT_SQL, flags=re.MULTILINE)
    getenv = re.search(r"^\\getenv (\w+) (\w+)$", INIT_SQL, flags=re.MULTILINE)
    assert role and database and getenv and getenv.group(1) == role.group(2)
    pg = SERVICES["postgresql"]
    assert "./deploy/postgres-init.sql:/docker-entrypoint-initdb.d/10-app-database.sql:ro" in pg["volumes"]
    assert getenv.group(2) in pg["environment"]  # the password reaches the init script
    temporal_dbs = {SERVICES["temporal"]["environment"][k] for k in ("DBNAME", "VISIBILITY_DBNAME")}
    for name in APP:
        raw = SERVICES[name]["environment"]["DATABASE_URL"]
        assert f"${{{getenv.group(2)}:?" in raw  # the same password as the role's
        url = urlsplit(interpolated(raw))
        assert url.hostname == "postgresql" and url.hostname in SERVICES and url.port == 5432
        assert url.username == role.group(1) == database.group(2)
        assert url.path.strip("/") == database.group(1) and database.group(1) not in temporal_dbs
        assert Settings(database_url=interpolated(raw)).startup_problems() == []


def test_setup_registers_exactly_the_workflows_search_attributes():
    registered = re.findall(r"^register (\w+) (\w+)$", SETUP_SH, flags=re.MULTILINE)
    assert sorted(registered) == sorted((k.name, CLI_TYPE[k.indexed_value_type]) for k in ALL)
    setup = SERVICES["setup"]
    assert "./deploy/temporal-setup.sh:/setup.sh:ro" in setup["volumes"]
    assert setup["entrypoint"] == ["sh", "/setup.sh"]
    assert setup["depends_on"]["temporal"] == {"condition": "service_healthy"}
    assert '--type "$2"' in SETUP_SH and '--name "$1"' in SETUP_SH


def test_named_volumes_are_declared_used_and_mounted_where_the_data_is():
    declared = set(COMPOSE["volumes"])
    used = {
        str(v).split(":")[0]
        for s in SERVICES.values()
        for v in s.get("volumes", [])
        if not str(v).startswith(("./", "/"))
    }
    assert used == declared
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgresql"]["volumes"]
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    for name in APP:
        assert "data:/data" in SERVICES[name]["volumes"] and "DATA_DIR=/data" in dockerfile
        assert "published:/app/playbooks/.published" in SERVICES[name]["volumes"]


def test_health_checks_probe_each_service_where_it_answers():
    assert "pg_isready -h 127.0.0.1" in healthcheck_text("postgresql")
    assert "temporal operator cluster health" in healthcheck_text("temporal")
    metrics_port = SERVICES["worker"]["environment"]["METRICS_PORT"]
    assert f"http://127.0.0.1:{metrics_port}/metrics" in healthcheck_text("worker")
    command = SERVICES["service"]["command"]
    port = command[command.index("--port") + 1]
    assert f"http://127.0.0.1:{port}/healthz" in healthcheck_text("service")
    assert SERVICES["service"]["ports"] == [f"{port}:{port}"]
    assert "/healthz" in {getattr(r, "path", "") for r in create_app(Settings()).routes}


def test_restart_policies_and_start_order():
    for name in LONG_RUNNING:
        assert SERVICES[name]["restart"] == "unless-stopped", name
    assert SERVICES["setup"]["restart"] == "no"  # one-shot: exits 0 once registered
    for name in APP:
        assert SERVICES[name]["depends_on"] == {
            "setup": {"condition": "service_completed_successfully"},
            "postgresql": {"condition": "service_healthy"},
        }


def test_workers_scale_out():
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=4
    assert worker["stop_grace_period"]  # SIGTERM, then time to finish running activities
    assert not any("container_name" in s for s in SERVICES.values())


def test_secrets_stay_out_of_git_and_the_image():
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()
    assert ".env" in (REPO_ROOT / ".dockerignore").read_text().split()


def readme_table_names() -> set[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Configuration (environment)", 1)[1].split("\n#", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row)}


def test_the_readme_table_has_every_variable_and_only_real_ones():
    names = readme_table_names()
    assert names >= FIELDS, f"add to the README table: {sorted((FIELDS) - names)}"
    assert names <= FIELDS, f"not a setting: {sorted(names - FIELDS)}"


def test_the_readme_says_docker_is_not_available_here():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    production = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    assert "Docker is not available" in production
    assert "docker compose up -d --scale worker=4" in production
    for heading in ("### Metrics and logs", "### Delivery guarantee per channel"):
        assert heading in production


def test_the_init_script_path_exists_for_every_bind_mount():
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            if str(volume).startswith("./"):
                assert (REPO_ROOT / str(volume).split(":")[0]).is_file(), volume
