"""The preview as a reviewer reads it: Markdown (README, pull requests), HTML, and the diff of two
versions' timelines. Pure formatting of csrunner/services/preview/model.py."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal, Optional

from csrunner.services.preview.model import ANSWER_AFTER, Preview, Row

COLUMNS = ("Day", "Time", "Step", "Channel", "To", "Subject / what", "Outcome")


def _cells(r: Row) -> tuple[str, ...]:
    return (str(r.day), r.time, r.step, r.channel, r.to, r.what, r.outcome)


def _intro(p: Preview) -> list[str]:
    o = p.options
    people = {
        "approve": "approved by the approver",
        "skip": "skipped by the approver",
        "none": "never answered, to show what the deadlines do",
    }[o.approvals]
    fact = f" (a task that records a fact answers {'yes' if o.answer else 'no'})"
    tasks = "completed by the assignee" + fact if o.tasks == "complete" else "never completed"
    return [
        f"Preview of {' → '.join(p.versions)} for {p.account.name} (`{p.account.id}`).",
        f"Day 0 starts at {o.start_at}; times are local ({p.account.timezone}). Approvals are {people}; "
        f"tasks are {tasks}; answers come {ANSWER_AFTER.seconds // 60} minutes after the request.",
        p.ending,
    ]


def _md(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def to_markdown(p: Preview) -> str:
    lines = [*_intro(p)[:2], "", "| " + " | ".join(COLUMNS) + " |", "|---:|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(_md(c) for c in _cells(r)) + " |" for r in p.rows]
    lines += ["", _intro(p)[2], "", "**Approval gates**", ""] + ([f"- {g}" for g in p.gates] or ["- none"])
    if p.options.body:
        lines += ["", "**Messages**"]
        for r in (r for r in p.rows if r.body):
            lines += [
                "",
                f"Day {r.day} {r.time} · {r.step} · {r.channel} to {r.to}: {_md(r.what)}",
                "",
                "~~~text",
                r.body,
                "~~~",
            ]
    return "\n".join(lines) + "\n"


def to_html(p: Preview) -> str:
    e, rows = html.escape, []
    for r in p.rows:
        rows.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in _cells(r)) + "</tr>")
        if p.options.body and r.body:
            rows.append(
                f"<tr><td colspan='7'><details><summary>message</summary><pre>{e(r.body)}</pre>"
                "</details></td></tr>"
            )
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    intro = "".join(f"<p>{e(t.replace('`', ''))}</p>" for t in _intro(p)[:2])
    gates = "".join(f"<li>{e(g)}</li>" for g in p.gates) or "<li>none</li>"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Preview: {e(p.playbook)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:4px 8px;text-align:left;vertical-align:top}pre{white-space:pre-wrap}</style></head><body>"
        f"<h1>Preview: {e(p.playbook)}</h1>{intro}<table><tr>{head}</tr>{''.join(rows)}</table>"
        f"<p>{e(_intro(p)[2])}</p><h2>Approval gates</h2><ul>{gates}</ul></body></html>\n"
    )


@dataclass
class Change:
    kind: Literal["added", "removed", "changed"]
    old: Optional[Row]
    new: Optional[Row]

    @property
    def row(self) -> Row:
        """The row to show: the new one, or the old one for a removal."""
        if self.new is not None:
            return self.new
        if self.old is not None:
            return self.old
        raise ValueError("a change has an old or a new row")


def diff(old: Preview, new: Preview) -> list[Change]:
    """Rows matched by (playbook, step, channel, n-th occurrence); changed when what a person
    would see differs (day, time, recipient, subject, outcome)."""

    def keyed(rows: list[Row]) -> dict[tuple[str, str, str, int], Row]:
        seen: dict[tuple[str, str, str], int] = {}
        out: dict[tuple[str, str, str, int], Row] = {}
        for r in rows:
            k = (r.playbook, r.step, r.channel)
            seen[k] = seen.get(k, 0) + 1
            out[(*k, seen[k])] = r
        return out

    a, b = keyed(old.rows), keyed(new.rows)
    changes = [Change("removed", r, None) for k, r in a.items() if k not in b]
    changes += [
        Change("added", None, r) if k not in a else Change("changed", a[k], r)
        for k, r in b.items()
        if k not in a or _cells(a[k]) != _cells(r)
    ]
    return sorted(changes, key=lambda c: (c.row.day, c.row.time))


def diff_markdown(old: Preview, new: Preview, changes: list[Change]) -> str:
    lines = [
        f"Timeline changes from {' → '.join(old.versions)} to {' → '.join(new.versions)} "
        f"for {new.account.name} (`{new.account.id}`):",
        "",
    ]
    if not changes:
        return "\n".join(lines + ["No change in the timeline."]) + "\n"
    lines += ["| Change | " + " | ".join(COLUMNS) + " |", "|---|---:|---|---|---|---|---|---|"]
    for c in changes:
        if c.kind == "changed" and c.old is not None and c.new is not None:
            cells = [o if o == n else f"{o} → {n}" for o, n in zip(_cells(c.old), _cells(c.new), strict=True)]
        else:
            cells = list(_cells(c.row))
        lines.append(f"| {c.kind} | " + " | ".join(_md(x) for x in cells) + " |")
    if old.ending != new.ending:
        lines += ["", f"Ending: {old.ending} → {new.ending}"]
    counts = {k: sum(c.kind == k for c in changes) for k in ("added", "removed", "changed")}
    return "\n".join(lines + ["", ", ".join(f"{n} {k}" for k, n in counts.items() if n) + "."]) + "\n"
