"""The Dockerfile, read as instructions (Docker is not available here): a non-root user, a plain
(not editable) install of every package pyproject.toml declares, and the ops data the settings
point at copied where the image's environment says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from csrunner.config import settings as settings_module
from csrunner.config.settings import REPO_ROOT, Settings


def instructions() -> list[tuple[str, str]]:
    text = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n\s*", " ", text)  # continuation lines
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def values(keyword: str) -> list[str]:
    return [arg for kw, arg in instructions() if kw == keyword]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for arg in values("ENV"):
        env.update(dict(pair.split("=", 1) for pair in shlex.split(arg)))
    return env


def copies() -> dict[str, str]:
    """Destination → source, for COPY instructions with one source."""
    out = {}
    for arg in values("COPY"):
        *sources, dest = arg.split()
        for source in sources:
            out[dest + Path(source).name if dest.endswith("/") else dest] = source
    return out


def test_the_base_image_and_a_non_root_user():
    assert values("FROM") == ["python:3.11-slim"]
    users = values("USER")
    assert users and users[-1] not in ("root", "0")
    user = users[-1]
    assert any("useradd" in r and re.search(rf"\b{user}\b", r) for r in values("RUN"))
    keywords = [kw for kw, _ in instructions()]
    assert "RUN" not in keywords[keywords.index("USER") :]  # every build step runs before the switch


def test_a_plain_install_of_every_declared_package():
    installs = [r for r in values("RUN") if "pip install" in r]
    assert installs and not any(re.search(r"(^|\s)(-e|--editable)(\s|$)", r) for r in installs)
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    packages = re.search(r"include = \[(.*)\]", pyproject).group(1)  # type: ignore[union-attr]
    modules = re.search(r"py-modules = \[(.*)\]", pyproject).group(1)  # type: ignore[union-attr]
    copied = {Path(src).name for src in copies().values()}
    for name in re.findall(r'"(\w+)\*?"', packages):
        assert name in copied, f"package {name} not copied into the image"
    for name in re.findall(r'"(\w+)"', modules):
        assert f"{name}.py" in copied


def test_the_settings_point_at_the_copied_ops_data_and_data_dir(monkeypatch):
    env, dests = image_env(), copies()
    for name, source in (
        ("PLAYBOOKS_DIR", "playbooks"),
        ("TEMPLATES_DIR", "email_templates"),
        ("TEAM_FILE", "team.yaml"),
    ):
        assert dests[env[name]] == source and (REPO_ROOT / source).exists()
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("DATA_DIR", env["DATA_DIR"])
    settings = Settings()
    assert settings.data_dir == Path("/data") and settings.team_file == Path(env["TEAM_FILE"])
    assert any("chown" in r and "/data" in r for r in values("RUN"))  # writable by the user
    assert "/data" in values("VOLUME")[0]


def test_stop_signal_and_default_command():
    assert values("STOPSIGNAL") == ["SIGTERM"]
    assert values("CMD") == ['["csr", "worker"]']


@pytest.mark.parametrize("entry", [".venv", "data", "test-artifacts", ".git", ".env"])
def test_dockerignore_keeps_local_state_out(entry):
    assert entry in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").split()


def test_a_plain_install_finds_its_data_in_the_working_directory(tmp_path, monkeypatch):
    """Outside a source checkout (site-packages), the defaults are relative to the working
    directory, where the image keeps playbooks/, email_templates/ and team.yaml."""
    installed = tmp_path / "site-packages" / "csrunner" / "config" / "settings.py"
    installed.parent.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert settings_module._project_root(installed) == tmp_path
    assert settings_module._project_root(Path(settings_module.__file__)) == REPO_ROOT
