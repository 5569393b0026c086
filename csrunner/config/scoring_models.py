"""Load a scoring model file (the file I/O side of csrunner.domain.scoring).

Every problem is reported at once, as file:line:column, via csrunner.config.sourcemap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from pydantic import ValidationError

from csrunner.config.sourcemap import DefinitionError, issues_from_validation, read_yaml
from csrunner.domain.scoring import DEFER_CHECKS, ScoringModel


def load_scoring_model(path: Union[str, Path], text: Optional[str] = None) -> ScoringModel:
    """Parse and validate a model file (`Settings.scoring_model_path` for the default one); raises
    DefinitionError listing every problem with its position."""
    doc = read_yaml(path, text)
    if not isinstance(doc.data, dict):
        raise DefinitionError(
            [doc.issue((), "a scoring model must be a mapping (name, groups, bands, triggers)")]
        )
    try:
        model = ScoringModel.model_validate(doc.data, context={DEFER_CHECKS: True})
    except ValidationError as err:
        raise DefinitionError(issues_from_validation(doc, err)) from None
    issues = [doc.issue(loc, f"field '{'.'.join(map(str, loc))}': {msg}") for loc, msg in model.problems()]
    if issues:
        raise DefinitionError(issues)
    return model
