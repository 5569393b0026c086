"""Everything `csr validate` and a starting worker check: playbooks, templates, scoring models."""

from __future__ import annotations

from pathlib import Path

from csrunner.config.catalog import load_catalog
from csrunner.config.facts import load_facts_schema
from csrunner.config.scoring_models import load_scoring_model
from csrunner.config.settings import Settings
from csrunner.config.sourcemap import DefinitionError
from csrunner.services.lint import lint_catalog


def relative(text: str) -> str:
    """file:line:col with paths relative to the working directory, as an editor wants them."""
    return str(text).replace(f"{Path.cwd()}/", "")


def check_all(settings: Settings) -> tuple[list[str], list[str]]:
    """(ok lines, problems) for the facts schema, playbooks, templates and scoring models: what
    `csr validate` prints."""
    ok, problems = [], []
    try:
        facts = load_facts_schema(settings.facts_path)
        ok.append(f"ok  account facts: {len(facts.facts)} declared  [{relative(str(settings.facts_path))}]")
    except DefinitionError as e:
        problems += [str(i) for i in e.issues]
        facts = None
    try:
        catalog = load_catalog(settings.playbooks_dir, settings.templates_dir)
        for pid, d in sorted(catalog.definitions.items()):
            ok.append(
                f"ok  {pid} v{d.version} ({d.content_hash}): {len(d.steps)} steps  "
                f"[{relative(catalog.files[pid])}]"
            )
        lint = lint_catalog(catalog, settings.templates_dir, facts=facts)
        problems += [str(i) for i in lint]
        ok += (
            []
            if lint
            else [f"ok  templates in {relative(str(settings.templates_dir))}: every variable exists"]
        )
    except DefinitionError as e:
        problems += [str(i) for i in e.issues]
    for path in sorted((Path(settings.playbooks_dir) / "scoring").glob("*.yaml")):
        if path == settings.facts_path:
            continue  # the facts schema, checked above
        try:
            ok.append(f"ok  scoring model {load_scoring_model(path).name}  [{relative(str(path))}]")
        except DefinitionError as e:
            problems += [str(i) for i in e.issues]
    return ok, [relative(p) for p in problems]
