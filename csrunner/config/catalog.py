"""Playbook files → validated definitions. Every problem in every file is reported at once,
as file:line:column, before anything runs.

Pydantic checks the shape of each file; the checks between fields and between files are in
csrunner/config/playbook_checks.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from csrunner.config.playbook_checks import cycles, reference_issues, step_issues, step_name
from csrunner.config.sourcemap import DefinitionError, Issue, YamlDocument, issues_from_validation, read_yaml
from csrunner.domain.definitions import STEP_KINDS, PlaybookDefinition, StartPlaybookStep

KINDS = ", ".join(STEP_KINDS)
#: Pydantic's own messages for checks this module makes itself, with a position.
_RECHECKED = ("duplicate step id", "'then: escalate' needs")


@dataclass
class Catalog:
    definitions: dict[str, PlaybookDefinition]
    files: dict[str, str]  # playbook id → file

    def bundle(self, playbook_id: str) -> dict[str, PlaybookDefinition]:
        """The snapshot a run carries: this playbook and every one it can start."""
        if playbook_id not in self.definitions:
            known = ", ".join(sorted(self.definitions))
            raise DefinitionError(
                [Issue("playbooks", 0, 0, f"unknown playbook {playbook_id!r} (known: {known})")]
            )
        out: dict[str, PlaybookDefinition] = {}
        todo = [playbook_id]
        while todo:
            d = self.definitions[todo.pop()]
            if d.id not in out:
                out[d.id] = d
                todo += [s.playbook for s in d.steps if isinstance(s, StartPlaybookStep)]
        return out

    def with_file(self, path: Path, templates_dir: Path | None = None) -> Catalog:
        """This catalog with one playbook file swapped in (a candidate version), fully checked."""
        doc = read_yaml(path)
        others = {f: read_yaml(f) for pid, f in self.files.items() if pid != _raw_id(doc)}
        docs = {**others, doc.file: doc}
        return _build(docs, templates_dir)


def _raw_id(doc: YamlDocument) -> Any:
    return doc.data.get("id") if isinstance(doc.data, dict) else None


def _describe(doc: YamlDocument) -> Callable[[tuple[int | str, ...]], tuple[str, int] | None]:
    def describe(loc: tuple[int | str, ...]) -> tuple[str, int] | None:
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
            steps = doc.data.get("steps") if isinstance(doc.data, dict) else None
            step = steps[loc[1]] if isinstance(steps, list) and 0 <= loc[1] < len(steps) else None
            return (step_name(step, loc[1]) if isinstance(step, dict) else f"step {loc[1] + 1}"), 2
        return None

    return describe


def file_issues(doc: YamlDocument) -> tuple[PlaybookDefinition | None, list[Issue]]:
    """Everything wrong inside one playbook file, and the definition when nothing is."""
    if not isinstance(doc.data, dict):
        return None, [doc.issue([], "a playbook must be a mapping with 'id', 'name' and 'steps'")]
    issues = doc.duplicate_keys()
    defn = None
    try:
        defn = PlaybookDefinition.model_validate(doc.data)
    except ValidationError as e:
        for i in issues_from_validation(doc, e, _describe(doc)):
            if not any(r in i.message for r in _RECHECKED):
                issues.append(
                    replace(i, message=i.message + f" (expected one of: {KINDS})")
                    if i.message.endswith("field 'kind' is required")
                    else i
                )
    issues += step_issues(doc)
    return (defn if not issues else None), sorted(issues, key=lambda i: (i.line, i.column))


def parse_playbook(doc: YamlDocument) -> PlaybookDefinition:
    defn, issues = file_issues(doc)
    if defn is None:  # file_issues gives a definition exactly when there are no issues
        raise DefinitionError(issues)
    return defn


def playbook_files(playbooks_dir: Path) -> list[Path]:
    return sorted(p for p in Path(playbooks_dir).iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_catalog(playbooks_dir: Path, templates_dir: Path | None = None) -> Catalog:
    """Load every playbooks/*.yaml; check templates exist and start_playbook targets form no cycle."""
    issues: list[Issue] = []
    docs: dict[str, YamlDocument] = {}
    for path in playbook_files(playbooks_dir):
        try:
            docs[str(path)] = read_yaml(path)
        except DefinitionError as e:
            issues += e.issues
    catalog = None
    try:
        catalog = _build(docs, templates_dir)
    except DefinitionError as e:
        issues += e.issues
    if issues or catalog is None:
        raise DefinitionError(sorted(issues, key=lambda i: (i.file, i.line, i.column)))
    return catalog


def _build(docs: dict[str, YamlDocument], templates_dir: Path | None) -> Catalog:
    issues: list[Issue] = []
    defs: dict[str, PlaybookDefinition] = {}
    owner: dict[str, YamlDocument] = {}  # raw playbook id → first file that defines it
    for doc in docs.values():
        defn, problems = file_issues(doc)
        issues += problems
        pid = _raw_id(doc)
        if isinstance(pid, str):
            if pid in owner:
                issues.append(doc.issue(["id"], f"playbook id {pid!r} already defined in {owner[pid].file}"))
                continue
            owner[pid] = doc
        if defn is not None:
            defs[defn.id] = defn
    issues += reference_issues(owner, templates_dir) + cycles(owner)
    if issues:
        raise DefinitionError(sorted(issues, key=lambda i: (i.file, i.line, i.column)))
    return Catalog(defs, {pid: owner[pid].file for pid in defs})
