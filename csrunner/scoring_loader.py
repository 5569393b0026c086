"""Load a scoring model file (the file I/O side of csrunner.scoring).

Every problem is reported at once, as file:line:column, via csrunner.sourcemap.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from pydantic import ValidationError

from .scoring import DEFER_CHECKS, ScoringModel
from .sourcemap import DefinitionError, issues_from_validation, read_yaml

DEFAULT_MODEL = "seed004.yaml"  # SPEC §4: seed 004's rubric is the default model


def playbooks_dir() -> Path:
    """$PLAYBOOKS_DIR, else <repo root>/playbooks."""
    env = os.environ.get("PLAYBOOKS_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "playbooks"


def default_model_path() -> Path:
    return playbooks_dir() / "scoring" / DEFAULT_MODEL


def load_scoring_model(path: Union[str, Path, None] = None, text: Optional[str] = None) -> ScoringModel:
    """Parse and validate a model file (default: `default_model_path()`); raises DefinitionError
    listing every problem with its position."""
    doc = read_yaml(path if path is not None else default_model_path(), text)
    if not isinstance(doc.data, dict):
        raise DefinitionError([doc.issue((), "a scoring model must be a mapping "
                                             "(name, groups, bands, triggers)")])
    try:
        model = ScoringModel.model_validate(doc.data, context={DEFER_CHECKS: True})
    except ValidationError as err:
        raise DefinitionError(issues_from_validation(doc, err)) from None
    issues = [doc.issue(loc, f"field '{'.'.join(map(str, loc))}': {msg}") for loc, msg in model.problems()]
    if issues:
        raise DefinitionError(issues)
    return model
