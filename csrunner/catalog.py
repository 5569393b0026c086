"""Playbook files → validated definitions. Every problem in every file is reported at once,
as file:line:column, before anything runs."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from csrunner.definitions import PlaybookDefinition, StartPlaybookStep
from csrunner.sourcemap import DefinitionError, Issue, YamlDocument, issues_from_validation, read_yaml


@dataclass
class Catalog:
    definitions: dict[str, PlaybookDefinition]
    files: dict[str, str]  # playbook id → file

    def bundle(self, playbook_id: str) -> dict[str, PlaybookDefinition]:
        """The snapshot a run carries: this playbook and every one it can start."""
        if playbook_id not in self.definitions:
            known = ", ".join(sorted(self.definitions))
            raise DefinitionError([Issue("playbooks", 0, 0, f"unknown playbook {playbook_id!r} (known: {known})")])
        out, todo = {}, [playbook_id]
        while todo:
            d = self.definitions[todo.pop()]
            if d.id not in out:
                out[d.id] = d
                todo += [s.playbook for s in d.steps if isinstance(s, StartPlaybookStep)]
        return out


def _describe(doc: YamlDocument):
    def describe(loc):
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
            steps = doc.data.get("steps") if isinstance(doc.data, dict) else None
            if isinstance(steps, list) and loc[1] < len(steps) and isinstance(steps[loc[1]], dict):
                return f"step {steps[loc[1]].get('id', loc[1])!r}"
            return f"step {loc[1]}"
        return None
    return describe


def parse_playbook(doc: YamlDocument) -> PlaybookDefinition:
    if not isinstance(doc.data, dict):
        raise DefinitionError([doc.issue([], "a playbook must be a mapping with 'id', 'name' and 'steps'")])
    try:
        return PlaybookDefinition.model_validate(doc.data)
    except ValidationError as e:
        raise DefinitionError(issues_from_validation(doc, e, _describe(doc))) from None


def load_catalog(playbooks_dir: Path, templates_dir: Path | None = None) -> Catalog:
    """Load every playbooks/*.yaml; check templates exist and start_playbook targets form no cycle."""
    issues: list[Issue] = []
    defs: dict[str, PlaybookDefinition] = {}
    docs: dict[str, YamlDocument] = {}
    for path in sorted(Path(playbooks_dir).glob("*.yaml")):
        try:
            doc = read_yaml(path)
            d = parse_playbook(doc)
        except DefinitionError as e:
            issues += e.issues
            continue
        if d.id in defs:
            issues.append(doc.issue(["id"], f"playbook id {d.id!r} already defined in {docs[d.id].file}"))
            continue
        defs[d.id], docs[d.id] = d, doc
    for pid, d in defs.items():
        doc = docs[pid]
        for i, field, target in d.references():
            if field == "playbook" and target not in defs:
                issues.append(doc.issue(["steps", i, field],
                                        f"step {d.steps[i].id!r}: unknown playbook {target!r}"))
            if field == "template" and templates_dir is not None:
                name = target if d.steps[i].kind == "email" else f"slack/{target}"
                if not (Path(templates_dir) / "en" / f"{name}.j2").is_file():
                    issues.append(doc.issue(["steps", i, field], f"step {d.steps[i].id!r}: template "
                                            f"{name!r} not found in {templates_dir}/en"))
        for i, s in enumerate(d.steps):
            gated = getattr(s, "gates", None)
            if gated is not None and (d.step(gated) is None or d.index(gated) <= i):
                issues.append(doc.issue(["steps", i, "gates"],
                                        f"step {s.id!r}: gates {gated!r}, which is not a later step"))
    issues += _cycles(defs, docs)
    if issues:
        raise DefinitionError(issues)
    return Catalog(defs, {k: v.file for k, v in docs.items()})


def _cycles(defs: dict[str, PlaybookDefinition], docs: dict[str, YamlDocument]) -> list[Issue]:
    issues, reported = [], set()

    def visit(pid: str, path: list[str]) -> None:
        for i, s in enumerate(defs[pid].steps):
            if not isinstance(s, StartPlaybookStep) or s.playbook not in defs:
                continue
            if s.playbook in path:
                cycle = " → ".join(path[path.index(s.playbook):] + [s.playbook])
                if frozenset(path) not in reported:
                    reported.add(frozenset(path))
                    issues.append(docs[pid].issue(["steps", i, "playbook"],
                                                  f"step {s.id!r}: start_playbook cycle {cycle}"))
            else:
                visit(s.playbook, path + [s.playbook])

    for pid in defs:
        visit(pid, [pid])
    return issues
