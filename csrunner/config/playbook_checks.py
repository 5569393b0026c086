"""Checks made on the raw YAML of playbook files, between fields of a step and between files:
duplicate step ids, approval gates, deadlines, handovers, templates, start_playbook targets and
cycles. Made on the raw data (not the validated models) so they are reported even when the same
file has other errors, and each points at the exact step. The kinds and defaults they name come
from csrunner/domain/definitions.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from csrunner.config.sourcemap import Issue, YamlDocument
from csrunner.domain.definitions import DEFAULT_START_MODE, START_PLAYBOOK, TEMPLATE_KINDS


def steps_of(doc: YamlDocument) -> Iterator[tuple[int, dict[str, Any]]]:
    steps = doc.data.get("steps") if isinstance(doc.data, dict) else None
    for i, s in enumerate(steps if isinstance(steps, list) else []):
        if isinstance(s, dict):
            yield i, s


def step_name(step: dict[str, Any], i: int) -> str:
    sid = step.get("id")
    return f"step {sid!r}" if isinstance(sid, str) else f"step {i + 1}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def step_issues(doc: YamlDocument) -> list[Issue]:
    issues: list[Issue] = []
    first: dict[str, int] = {}
    steps = list(steps_of(doc))
    order = {s["id"]: i for i, s in reversed(steps) if isinstance(s.get("id"), str)}
    for i, s in steps:
        sid, name = s.get("id"), step_name(s, i)
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
                        f"of this playbook{did_you_mean(gated, later)}",
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
            s.get("kind") == START_PLAYBOOK
            and s.get("mode", DEFAULT_START_MODE) == "handover"
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


def template_names(templates_dir: Path, slack: bool) -> set[str]:
    folder = Path(templates_dir) / "en" / ("slack" if slack else "")
    return {p.stem for p in folder.glob("*.j2")} if folder.is_dir() else set()


def reference_issues(owner: dict[str, YamlDocument], templates_dir: Path | None) -> list[Issue]:
    issues: list[Issue] = []
    names = (
        {kind: template_names(templates_dir, kind == "slack") for kind in TEMPLATE_KINDS}
        if templates_dir is not None
        else None
    )
    for doc in owner.values():
        for i, s in steps_of(doc):
            target, kind = s.get("playbook"), s.get("kind")
            if kind == START_PLAYBOOK and isinstance(target, str) and target not in owner:
                issues.append(
                    doc.issue(
                        ["steps", i, "playbook"],
                        f"{step_name(s, i)}: unknown playbook {target!r} "
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
                        f"{step_name(s, i)}: unknown template {template!r} "
                        f"(no {rel} in {templates_dir}){did_you_mean(template, names[kind])}",
                    )
                )
    return issues


def cycles(owner: dict[str, YamlDocument]) -> list[Issue]:
    """A playbook that (through others) starts itself would run forever: one issue per cycle,
    at the step that closes it."""
    edges = {
        pid: [
            (i, s["playbook"])
            for i, s in steps_of(doc)
            if s.get("kind") == START_PLAYBOOK
            and isinstance(s.get("playbook"), str)
            and s["playbook"] in owner
        ]
        for pid, doc in owner.items()
    }
    issues: list[Issue] = []
    done: set[str] = set()
    reported: set[frozenset[str]] = set()

    def visit(pid: str, path: list[str]) -> None:
        for i, target in edges[pid]:
            if target in path:
                cycle = path[path.index(target) :] + [target]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    step = dict(steps_of(owner[pid]))[i]
                    issues.append(
                        owner[pid].issue(
                            ["steps", i, "playbook"],
                            f"{step_name(step, i)}: start_playbook cycle {' → '.join(cycle)}",
                        )
                    )
            elif target not in done:
                visit(target, path + [target])
        done.add(pid)

    for pid in sorted(owner):
        if pid not in done:
            visit(pid, [pid])
    return issues
