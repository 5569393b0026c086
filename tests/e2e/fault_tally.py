"""Counting a fault-injection run where the messages arrive: SendGrid by `custom_args.idempotency_key`,
Slack by the account named in the message, task cards by their outbox file (one per idempotency key)
and by the runs' timelines (a card written twice overwrites its file, so the timeline says how many
times a task was created). Anything lost, doubled or unexpected becomes a line in `problems`."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

from fakes import FakeSendGrid, FakeSlack, RecordedRequest

from activities.outbox import file_name
from csrunner.domain.definitions import EmailStep, PlaybookDefinition, SlackStep, TaskStep
from csrunner.domain.messages import Account, RunView
from csrunner.services.runs import run_id


@dataclass
class Expected:
    playbook: str
    emails: list[str]  # idempotency keys SendGrid must accept exactly once
    refused: str  # the one key whose recipient SendGrid refuses (400): a CSM task instead
    tasks: list[str]  # task keys, the refused email's fix task among them
    slack: dict[str, int]  # account name -> Slack messages naming it, at least

    @classmethod
    def of(cls, defn: PlaybookDefinition, accounts: list[Account], refused_account: str) -> Expected:
        refused_step = next(
            s.id for s in defn.steps if isinstance(s, EmailStep) and s.to == "executive_sponsor"
        )
        wids = {a.id: run_id(a.id, defn.id) for a in accounts}
        key = lambda wid, step: f"{wid}/{defn.id}/{step}"  # noqa: E731 (workflows/run.py PlaybookRun.key)
        refused = key(wids[refused_account], refused_step)
        emails = [key(w, s.id) for w in wids.values() for s in defn.steps if isinstance(s, EmailStep)]
        tasks = [key(w, s.id) for w in wids.values() for s in defn.steps if isinstance(s, TaskStep)]
        slack = sum(isinstance(s, SlackStep) for s in defn.steps)
        return cls(
            defn.id,
            [e for e in emails if e != refused],
            refused,
            tasks + [f"{refused}-fix"],  # workflows/pending.py PendingWork.failed
            {a.name: slack for a in accounts},
        )


@dataclass
class Tally:
    runs_started: int = 0
    runs_completed: int = 0
    emails_expected: int = 0
    emails_once: int = 0
    emails_lost: int = 0
    emails_duplicated: int = 0
    emails_refused: int = 0
    fix_tasks: int = 0
    unknown_to_task: int = 0  # no second send after an unknown outcome: a "check and resend" task
    unknown_had_arrived: int = 0  # of those, emails that had in fact reached SendGrid (once)
    tasks_expected: int = 0
    tasks_found: int = 0
    tasks_twice: int = 0
    slack_expected: int = 0
    slack_delivered: int = 0
    slack_resent: int = 0
    sg_429: int = 0
    sg_500: int = 0
    sg_400: int = 0
    slack_429: int = 0
    slack_retry_wait: str = "-"
    sg_429_early: int = 0  # SendGrid retries that came before X-RateLimit-Reset said
    problems: list[str] = field(default_factory=list)


def tally(
    exp: Expected,
    views: dict[str, RunView | None],
    sg: FakeSendGrid,
    slack: FakeSlack,
    tasks_dir: Path,
    retry_after: int,
) -> Tally:
    t, bad = Tally(), []
    wids = {k.split("/")[0] for k in exp.tasks}
    t.runs_started, t.runs_completed = (
        len(wids),
        sum(1 for v in views.values() if v and v.status == "completed"),
    )
    bad += [
        f"run {w} did not complete"
        for w in sorted(wids)
        if not (views.get(w) and views[w].status == "completed")
    ]

    sent = sg.custom_arg_values("idempotency_key")
    files = {p.name for p in tasks_dir.glob("*.md")} if tasks_dir.is_dir() else set()
    task_files = {file_name(k, ".md") for k in exp.tasks}
    checks = files - task_files  # anything else in the task outbox: a check task, or a problem
    t.emails_expected = len(exp.emails)
    for key in exp.emails:
        n, stem = sent[key], file_name(key, "") + "-check"
        # With the attempt/outcome ledger, a send whose outcome is unknown (the worker died between
        # SendGrid's answer and the write) is not sent again: the CSM gets a check task instead.
        check = {f for f in checks if f.startswith(stem)}
        t.unknown_to_task += len(check)
        t.unknown_had_arrived += len(check) if n else 0
        checks -= check
        if n == 1:
            t.emails_once += 1
        elif n > 1:
            t.emails_duplicated += 1
            bad.append(f"email {key} reached SendGrid {n} times")
        elif not check:
            t.emails_lost += 1
            bad.append(f"email {key} never reached SendGrid, and no check task says so")
    bad += [f"unexpected email {k} at SendGrid" for k in sent if k not in exp.emails]
    t.emails_refused = sum(1 for r in sg.requests if r.status == 400 and exp.refused in r.body.decode())
    if t.emails_refused < 1:
        bad.append(f"the refused address was never tried ({exp.refused})")

    created = Counter(
        f"{v.workflow_id}/{exp.playbook}/{r.step_id}"
        for v in views.values()
        if v
        for r in v.timeline
        if r.kind == "task" and r.outcome == "created"
    )
    t.tasks_expected, t.tasks_found = len(exp.tasks), len(task_files & files)
    t.tasks_twice = sum(1 for k in exp.tasks if created[k] > 1)
    t.fix_tasks = created[f"{exp.refused}-fix"]
    bad += [f"task {k} has no card in the outbox" for k in exp.tasks if file_name(k, ".md") not in files]
    bad += [f"task {k} created {created[k]} times in its run" for k in exp.tasks if created[k] != 1]
    bad += [f"unexpected task card {f}" for f in sorted(checks)]

    posts = [r for r in slack.requests if r.path.endswith("/chat.postMessage")]
    names = Counter(n for m in slack.messages for n in exp.slack if n in (m["text"] or ""))
    t.slack_expected = sum(exp.slack.values())
    t.slack_delivered = sum(min(names[n], k) for n, k in exp.slack.items())
    t.slack_resent = sum(max(0, names[n] - k) for n, k in exp.slack.items())
    bad += [f"no Slack message for {n}" for n, k in exp.slack.items() if names[n] < k]

    t.sg_429, t.sg_500, t.sg_400 = (sum(1 for r in sg.requests if r.status == s) for s in (429, 500, 400))
    limited = [r for r in posts if r.status == 429]
    t.slack_429 = len(limited)
    waits = []
    for r in limited:
        again = next((x for x in posts if x.received_at > r.received_at and _same(x, r)), None)
        if again is None:
            bad.append("a Slack message answered 429 was never retried")
            continue
        waits.append(again.received_at - r.received_at)
    if waits:
        t.slack_retry_wait = f"{min(waits):.1f} s ({retry_after} s)"
        bad += [
            f"Slack retried {w:.2f} s after a 429 with Retry-After {retry_after}"
            for w in waits
            if w < retry_after
        ]
    bad += _rate_limit_waits(t, sg)
    t.problems = bad
    return t


def _args(r: RecordedRequest) -> dict:
    if r.headers.get("content-type", "").startswith("application/json"):
        return r.json() or {}
    return {k: v[0] for k, v in parse_qs(r.body.decode()).items()}


def _idempotency_key(r: RecordedRequest) -> str | None:
    body = r.json() or {}
    return (body.get("custom_args") or {}).get("idempotency_key")


def _rate_limit_waits(t: Tally, sg: FakeSendGrid) -> list[str]:
    """A send answered 429 is tried again no earlier than its X-RateLimit-Reset (1 s of rounding)."""
    sends = [r for r in sg.requests if r.path == "/v3/mail/send"]
    bad = []
    for r in (x for x in sends if x.status == 429):
        headers = {k.lower(): v for k, v in r.response_headers.items()}
        reset = float(headers.get("x-ratelimit-reset") or 0)
        key = _idempotency_key(r)
        again = next((x for x in sends if x.received_at > r.received_at and _idempotency_key(x) == key), None)
        if again is not None and again.received_at < reset - 1:
            t.sg_429_early += 1
            bad.append(f"SendGrid retried {key} {reset - again.received_at:.1f} s before X-RateLimit-Reset")
    return bad


def _same(a: RecordedRequest, b: RecordedRequest) -> bool:
    x, y = _args(a), _args(b)
    return (x.get("channel"), json.dumps(x.get("text"))) == (y.get("channel"), json.dumps(y.get("text")))
