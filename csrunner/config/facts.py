"""Load the account facts schema (`playbooks/scoring/facts.yaml`, `Settings.facts_path`).

Problems are reported at once as file:line:column, like the scoring models. No file: no facts
are declared (and any fact sent is refused as unknown).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from pydantic import ValidationError

from csrunner.config.sourcemap import DefinitionError, issues_from_validation, read_yaml
from csrunner.domain.facts import FactsSchema

_CACHE: dict[tuple[str, float], FactsSchema] = {}


def load_facts_schema(path: Union[str, Path], text: Optional[str] = None) -> FactsSchema:
    if text is None and not Path(path).is_file():
        return FactsSchema()
    doc = read_yaml(path, text)
    if not isinstance(doc.data, dict):
        raise DefinitionError([doc.issue((), "a facts file must be a mapping with a list 'facts'")])
    try:
        schema = FactsSchema.model_validate(doc.data)
    except ValidationError as err:
        raise DefinitionError(issues_from_validation(doc, err)) from None
    twice = schema.duplicates()
    if twice:
        raise DefinitionError(
            [
                doc.issue(("facts", i, "name"), f"fact '{schema.facts[i].name}' is declared twice")
                for i in twice
            ]
        )
    return schema


def facts_schema(path: Path) -> FactsSchema:
    """The schema, re-read when the file changes (services and the worker call this per request)."""
    key = (str(path), path.stat().st_mtime if path.is_file() else 0.0)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = load_facts_schema(path)
    return _CACHE[key]
