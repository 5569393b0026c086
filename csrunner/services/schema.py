"""JSON Schema of the playbook format, for editors (completion and red squiggles while typing).

Generated from the pydantic models, so it can never drift from what the loader accepts; the
committed copy is playbooks/playbook.schema.json (a test fails when it is stale). VS Code with the
YAML extension picks it up from a first line `# yaml-language-server: $schema=playbook.schema.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from csrunner.config.settings import REPO_ROOT
from csrunner.domain.definitions import STEP_KINDS, PlaybookDefinition

SCHEMA_PATH = REPO_ROOT / "playbooks" / "playbook.schema.json"


def _form(**props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"fact": {"type": "string"}, **props},
        "required": ["fact", next(iter(props))],
        "additionalProperties": False,
    }


#: Models whose YAML form differs from their fields (a before-validator rewrites it): what a
#: person writes. The test that the shipped playbooks pass the schema keeps these honest.
INPUT_FORMS = {
    "Condition": {
        "description": "Run the step only when a run fact equals (or does not equal) a value, "
        "e.g. {fact: first_value_reached, not_equals: true}.",
        "oneOf": [
            _form(equals={}),
            _form(not_equals={}),
            _form(op={"enum": ["equals", "not_equals"]}, value={}),
        ],
    },
}


def playbook_schema() -> dict[str, Any]:
    schema = PlaybookDefinition.model_json_schema(mode="validation")
    for name, form in INPUT_FORMS.items():
        if name in schema.get("$defs", {}):
            schema["$defs"][name] = form
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Customer-success playbook",
        "description": f"A playbook: steps at day offsets ({', '.join(STEP_KINDS)}). "
        "See playbooks/onboarding.yaml.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def schema_text() -> str:
    return json.dumps(playbook_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    Path(path).write_text(schema_text(), encoding="utf-8")
    return Path(path)
