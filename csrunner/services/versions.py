"""Versions: publishing playbook definitions and moving chosen running runs to a new version.

A definition's version is its human number (`version:` in the YAML) plus its content hash. The
registry (a folder, by default playbooks/.published/) keeps a snapshot of every published
definition and an append-only log, registry.jsonl, of every publish and every migration: who,
when, from which version to which. A run keeps the definition it started with (it travels in
the workflow input); only an explicit migration moves it, through the workflow's `migrate`
update, whose validator refuses (and changes nothing) when the run cannot move.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from csrunner.config.catalog import Catalog
from csrunner.domain.definitions import PlaybookDefinition
from csrunner.domain.messages import Migration, PlaybookInput, RunState, RunView
from csrunner.domain.migration import MigrationPlan, plan_migration
from workflows.playbook import PlaybookWorkflow


def label(d: PlaybookDefinition) -> str:
    return f"v{d.version} {d.content_hash}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Registry:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.log = self.folder / "registry.jsonl"

    def events(self, playbook: Optional[str] = None) -> list[dict]:
        if not self.log.is_file():
            return []
        rows = [
            json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        return [r for r in rows if playbook is None or r.get("playbook") == playbook]

    def _append(self, event: dict) -> dict:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
        return event

    def current(self, playbook: str) -> Optional[PlaybookDefinition]:
        published = [e for e in self.events(playbook) if e["event"] == "publish"]
        return self.snapshot(playbook, published[-1]["hash"]) if published else None

    def snapshot(self, playbook: str, content_hash: str) -> PlaybookDefinition:
        path = self.folder / "snapshots" / f"{playbook}-{content_hash}.json"
        return PlaybookDefinition.model_validate_json(path.read_text(encoding="utf-8"))

    def publish(self, defn: PlaybookDefinition, who: str) -> tuple[bool, str]:
        """(published?, what happened). A changed definition must carry a higher version number."""
        last = self.current(defn.id)
        if last is not None and last.content_hash == defn.content_hash:
            return False, f"{defn.id}: {label(defn)} is already the published version"
        if last is not None and defn.version <= last.version:
            return False, (
                f"{defn.id}: the content changed ({last.content_hash} → {defn.content_hash}) but the "
                f"version is still {defn.version}: raise `version:` above {last.version} to publish"
            )
        snap = self.folder / "snapshots" / f"{defn.id}-{defn.content_hash}.json"
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.write_text(defn.model_dump_json(indent=2) + "\n", encoding="utf-8")
        self._append(
            {
                "event": "publish",
                "playbook": defn.id,
                "version": defn.version,
                "hash": defn.content_hash,
                "from": label(last) if last else None,
                "to": label(defn),
                "who": who,
                "when": _now(),
            }
        )
        return True, f"{defn.id}: published {label(defn)}" + (
            f" (was {label(last)})" if last else " (first version)"
        )

    def record_migration(self, run: RunPlan, who: str, reason: str, applied: bool, why: str) -> dict:
        return self._append(
            {
                "event": "migrate",
                "playbook": run.playbook,
                "workflow_id": run.workflow_id,
                "account": run.account_id,
                "from": run.from_label,
                "to": run.to_label,
                "applied": applied,
                "why": why,
                "reason": reason,
                "who": who,
                "when": _now(),
            }
        )

    def live(self, files: Catalog) -> Catalog:
        """The catalog new runs should start from: the published version of each playbook
        (the file's own when it was never published)."""
        defs = {pid: self.current(pid) or d for pid, d in files.definitions.items()}
        return Catalog(defs, files.files)


# --- selecting runs and planning their migration ------------------------------------------------


def visibility_query(playbook: str, accounts: Optional[list[str]] = None, extra: Optional[str] = None) -> str:
    """Running playbook runs through Temporal visibility (search attributes Playbook, AccountId)."""

    def quoted(v: str) -> str:
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"

    parts = [
        "WorkflowType = 'PlaybookWorkflow'",
        "ExecutionStatus = 'Running'",
        f"Playbook = {quoted(playbook)}",
    ]
    if accounts:
        parts.append(f"AccountId IN ({', '.join(quoted(a) for a in accounts)})")
    if extra:
        parts.append(f"({extra})")
    return " AND ".join(parts)


async def find_runs(
    client: Client, playbook: str, accounts: Optional[list[str]] = None, extra: Optional[str] = None
) -> list[str]:
    return sorted({w.id async for w in client.list_workflows(visibility_query(playbook, accounts, extra))})


@dataclass
class RunPlan:
    workflow_id: str
    account_id: str
    playbook: str
    day: int
    from_label: str
    to_label: str
    ok: bool
    why: str
    plan: Optional[dict] = None

    def line(self) -> str:
        verdict = "would move" if self.ok else "stays"
        extra = ""
        if self.plan and self.ok:
            new = [s for s in self.plan["upcoming"] if s in self.plan.get("new_ahead", [])]
            extra = "".join(
                f"; {k}: {', '.join(v)}"
                for k, v in (
                    ("new steps ahead", new),
                    ("new steps it will not run", self.plan["skipped_new"]),
                    ("dropped", self.plan["dropped"]),
                )
                if v
            )
        return (
            f"{self.workflow_id} ({self.account_id}, day {self.day}, {self.from_label} → {self.to_label}): "
            f"{verdict}: {self.why}{extra}"
        )


async def run_definition(handle: WorkflowHandle) -> tuple[PlaybookDefinition, PlaybookInput]:
    """The definition a run is on now: its start input, then every migration that succeeded.
    Read from history (the same payloads the worker decoded), so nothing is guessed."""
    conv = pydantic_data_converter.payload_converter
    history = await handle.fetch_history()
    inp: PlaybookInput | None = None
    defn: PlaybookDefinition | None = None
    accepted: dict[str, Migration] = {}
    for ev in history.events:
        if ev.HasField("workflow_execution_started_event_attributes"):
            inp = conv.from_payloads(
                ev.workflow_execution_started_event_attributes.input.payloads, [PlaybookInput]
            )[0]
            defn = inp.definitions[inp.playbook]
        elif ev.HasField("workflow_execution_update_accepted_event_attributes"):
            req = ev.workflow_execution_update_accepted_event_attributes.accepted_request
            if req.input.name == "migrate":
                accepted[req.meta.update_id] = conv.from_payloads(req.input.args.payloads, [Migration])[0]
        elif ev.HasField("workflow_execution_update_completed_event_attributes"):
            done = ev.workflow_execution_update_completed_event_attributes
            m = accepted.get(done.meta.update_id)
            if (
                m is not None
                and defn is not None
                and done.outcome.HasField("success")
                and defn.id in m.definitions
            ):
                defn = m.definitions[defn.id]
    if inp is None or defn is None:  # every history starts with its input
        raise ValueError(f"{handle.id}: no start event in the history")
    return defn, inp


def state_for_plan(
    view: RunView, defn: PlaybookDefinition, inp: PlaybookInput
) -> tuple[RunState, Optional[str]]:
    """The parts of RunState that plan_migration reads, from the `view` query. Its current_step is
    the step the run waits for or runs (None once every step ran): what the validator reads too."""
    current = view.current_step if defn.step(view.current_step or "") is not None else None
    cursor = defn.index(current) if current else len(defn.steps)
    started = inp.state.started_at if inp.state else datetime.now(UTC)  # not read by the plan
    return RunState(
        playbook=view.playbook,
        version=view.version,
        content_hash=defn.content_hash,
        started_at=started,
        cursor=cursor,
        status=view.status,
    ), current


async def plan_run(client: Client, workflow_id: str, new: dict[str, PlaybookDefinition]) -> RunPlan:
    handle = client.get_workflow_handle(workflow_id)
    view = await handle.query(PlaybookWorkflow.view)
    old, inp = await run_definition(handle)
    target = new.get(old.id)
    if target is None:
        return RunPlan(
            workflow_id,
            view.account_id,
            old.id,
            view.day,
            label(old),
            "-",
            False,
            f"the run is on '{old.id}', which this migration does not change",
        )
    state, current = state_for_plan(view, old, inp)
    plan: MigrationPlan = plan_migration(state, old, target, current)
    details = plan.model_dump()
    details["new_ahead"] = [s.id for s in target.steps if old.step(s.id) is None]
    return RunPlan(
        workflow_id,
        view.account_id,
        old.id,
        view.day,
        label(old),
        label(target),
        plan.ok,
        plan.reason,
        details,
    )


async def migrate(
    client: Client,
    workflow_ids: list[str],
    new: dict[str, PlaybookDefinition],
    who: str,
    reason: str,
    registry: Optional[Registry],
    dry_run: bool = False,
    version: Optional[int] = None,
) -> list[RunPlan]:
    """Plan each run; unless dry_run, move those that can move (the workflow checks again)."""
    plans = []
    for wid in workflow_ids:
        p = await plan_run(client, wid, new)
        if version is not None and not p.from_label.startswith(f"v{version} "):
            p.ok, p.why = False, f"not selected: the run is on {p.from_label}, not v{version}"
            plans.append(p)
            continue
        if not dry_run:
            if p.ok:
                try:
                    view = await client.get_workflow_handle(wid).execute_update(
                        PlaybookWorkflow.migrate, Migration(definitions=new, actor=who, reason=reason)
                    )
                    resume = [r.step_id for r in view.timeline if r.outcome == "migrated"][-1]
                    p.why = f"moved: continues at '{resume}' in v{new[p.playbook].version}"  # the run's word
                except WorkflowUpdateFailedError as e:  # the run changed since the plan: its word wins
                    cause = e.cause
                    p.ok, p.why = False, cause.message if isinstance(cause, ApplicationError) else str(cause)
            if registry is not None:  # refusals too: who tried what, and why it did not happen
                registry.record_migration(p, who, reason, p.ok, p.why)
        plans.append(p)
    return plans


def as_json(plans: list[RunPlan]) -> str:
    return json.dumps([asdict(p) for p in plans], indent=2, ensure_ascii=False)
