"""Playbook files → validated definitions. Every problem in every file is reported at once,
as file:line:column, before anything runs.

Pydantic checks the shape of each file. The checks between fields and between files (duplicate
step ids, approval gates, deadlines, templates, start_playbook targets and cycles) are made here
on the raw YAML data, so they are reported even when the same file has other errors, and each
points at the exact step.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

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
        out, todo = {}, [playbook_id]
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


def _steps(doc: YamlDocument) -> Iterator[tuple[int, dict]]:
    steps = doc.data.get("steps") if isinstance(doc.data, dict) else None
    for i, s in enumerate(steps if isinstance(steps, list) else []):
        if isinstance(s, dict):
            yield i, s


def _name(step: dict, i: int) -> str:
    sid = step.get("id")
    return f"step {sid!r}" if isinstance(sid, str) else f"step {i + 1}"


def _describe(doc: YamlDocument):
    def describe(loc):
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
            steps = doc.data.get("steps") if isinstance(doc.data, dict) else None
            step = steps[loc[1]] if isinstance(steps, list) and 0 <= loc[1] < len(steps) else None
            return (_name(step, loc[1]) if isinstance(step, dict) else f"step {loc[1] + 1}"), 2
        return None

    return describe


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


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
    issues += _step_issues(doc)
    return (defn if not issues else None), sorted(issues, key=lambda i: (i.line, i.column))


def _step_issues(doc: YamlDocument) -> list[Issue]:
    issues, first = [], {}
    steps = list(_steps(doc))
    order = {s["id"]: i for i, s in reversed(steps) if isinstance(s.get("id"), str)}
    for i, s in steps:
        sid, name = s.get("id"), _name(s, i)
        if isinstance(sid, str):
            if sid in first:
                line = doc.locate(["steps", first[sid], "id"])[0]
                issues.append(
                    doc.issue(["steps", i, "id"], f"{name}: duplicate step id (first used at line {line})")
                )
            first.setdefault(sid, i)
        gated = s.get("gates")
        if isinstance(gated, str):  # checked even when the kind is misspelt: all errors at once
            if gated not in order:
                later = [x for x in order if order[x] > i]
                issues.append(
                    doc.issue(
                        ["steps", i, "gates"],
                        f"{name}: gates {gated!r}, which is not a step "
                        f"of this playbook{_did_you_mean(gated, later)}",
                    )
                )
            elif order[gated] <= i:
                issues.append(
                    doc.issue(
                        ["steps", i, "gates"],
                        f"{name}: gates {gated!r}, which comes before it (an approval guards a later step)",
                    )
                )
        deadline = s.get("deadline")
        if (
            isinstance(deadline, dict)
            and deadline.get("then") == "escalate"
            and not deadline.get("escalate_to")
        ):
            issues.append(
                doc.issue(
                    ["steps", i, "deadline", "then"],
                    f"{name}: deadline 'then: escalate' has no one to escalate to "
                    "(add escalate_to, e.g. [manager, executive])",
                )
            )
        if (
            s.get("kind") == "start_playbook"
            and s.get("mode", "handover") == "handover"
            and i < len(steps) - 1
        ):
            issues.append(
                doc.issue(
                    ["steps", i, "mode"] if "mode" in s else ["steps", i, "kind"],
                    f"{name}: hands the run over, so the steps after it never run "
                    "(make it the last step, or use mode: parallel)",
                )
            )
    return issues


def parse_playbook(doc: YamlDocument) -> PlaybookDefinition:
    defn, issues = file_issues(doc)
    if issues:
        raise DefinitionError(issues)
    return defn


def playbook_files(playbooks_dir: Path) -> list[Path]:
    return sorted(p for p in Path(playbooks_dir).iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_catalog(playbooks_dir: Path, templates_dir: Path | None = None) -> Catalog:
    """Load every playbooks/*.yaml; check templates exist and start_playbook targets form no cycle."""
    issues, docs = [], {}
    for path in playbook_files(playbooks_dir):
        try:
            docs[str(path)] = read_yaml(path)
        except DefinitionError as e:
            issues += e.issues
    try:
        catalog = _build(docs, templates_dir)
    except DefinitionError as e:
        issues += e.issues
    if issues:
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
    issues += _reference_issues(owner, templates_dir) + _cycles(owner)
    if issues:
        raise DefinitionError(sorted(issues, key=lambda i: (i.file, i.line, i.column)))
    return Catalog(defs, {pid: owner[pid].file for pid in defs})


def template_names(templates_dir: Path, slack: bool) -> set[str]:
    folder = Path(templates_dir) / "en" / ("slack" if slack else "")
    return {p.stem for p in folder.glob("*.j2")} if folder.is_dir() else set()


def _reference_issues(owner: dict[str, YamlDocument], templates_dir: Path | None) -> list[Issue]:
    issues = []
    names = (
        {kind: template_names(templates_dir, kind == "slack") for kind in ("email", "slack")}
        if templates_dir is not None
        else None
    )
    for doc in owner.values():
        for i, s in _steps(doc):
            target, kind = s.get("playbook"), s.get("kind")
            if kind == "start_playbook" and isinstance(target, str) and target not in owner:
                issues.append(
                    doc.issue(
                        ["steps", i, "playbook"],
                        f"{_name(s, i)}: unknown playbook {target!r} "
                        f"(expected one of: {', '.join(sorted(owner))})",
                    )
                )
            template = s.get("template")
            if (
                names is None
                or not isinstance(kind, str)
                or kind not in names
                or not isinstance(template, str)
            ):
                continue
            if template not in names[kind]:
                rel = f"en/{'slack/' if kind == 'slack' else ''}{template}.j2"
                issues.append(
                    doc.issue(
                        ["steps", i, "template"],
                        f"{_name(s, i)}: unknown template {template!r} "
                        f"(no {rel} in {templates_dir}){_did_you_mean(template, names[kind])}",
                    )
                )
    return issues


def _cycles(owner: dict[str, YamlDocument]) -> list[Issue]:
    """A playbook that (through others) starts itself would run forever: one issue per cycle,
    at the step that closes it."""
    edges = {
        pid: [
            (i, s["playbook"])
            for i, s in _steps(doc)
            if s.get("kind") == "start_playbook"
            and isinstance(s.get("playbook"), str)
            and s["playbook"] in owner
        ]
        for pid, doc in owner.items()
    }
    issues, done, reported = [], set(), set()

    def visit(pid: str, path: list[str]) -> None:
        for i, target in edges[pid]:
            if target in path:
                cycle = path[path.index(target) :] + [target]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    step = dict(_steps(owner[pid]))[i]
                    issues.append(
                        owner[pid].issue(
                            ["steps", i, "playbook"],
                            f"{_name(step, i)}: start_playbook cycle {' → '.join(cycle)}",
                        )
                    )
            elif target not in done:
                visit(target, path + [target])
        done.add(pid)

    for pid in sorted(owner):
        if pid not in done:
            visit(pid, [pid])
    return issues
