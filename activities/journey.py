"""What the account journey reads from disk and decides outside its own code.

`decide` (an activity) answers the journey's rule questions with the rules this worker was
deployed with and the scoring model / playbook catalog as they are on disk now. Both files are
read once per worker and again only when they change (their content hash goes with the answer),
so ops edit them without restarting anything and a journey start costs no file read.
`load_definitions` / `load_scoring_model` serve journeys started by the previous release.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Optional, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import metrics
from activities.store.account_rows import AccountRows
from csrunner.config.catalog import Catalog, load_catalog, playbook_files
from csrunner.config.scoring_models import load_scoring_model
from csrunner.config.settings import Settings
from csrunner.config.sourcemap import DefinitionError
from csrunner.domain import journey_rules, lifecycle
from csrunner.domain.definitions import PlaybookDefinition
from csrunner.domain.journey_rules import Outcome, PlayStart, RuleRequest
from csrunner.domain.read_model import AccountRowWrite
from csrunner.domain.scoring import ScoringModel

T = TypeVar("T")


class FileCache(Generic[T]):
    """A value loaded from files, reloaded when any of them changes (size, mtime or the set)."""

    def __init__(self, files: Callable[[], list[Path]], load: Callable[[], T]):
        self._files, self._load = files, load
        self._lock = threading.Lock()
        self._key: Any = None
        self.value: T | None = None
        self.hash = ""

    def get(self) -> tuple[T, str]:
        """The value and its content hash. A file broken after a good load keeps the last good
        value (tried again at the next call); with none loaded yet, the error is raised."""
        paths = self._files()
        key = [(str(p), st.st_mtime_ns, st.st_size) for p in paths if (st := p.stat())]
        with self._lock:
            if key != self._key or self.value is None:
                try:
                    value = self._load()
                except DefinitionError:
                    if self.value is None:
                        raise
                    return self.value, self.hash
                digest = hashlib.sha256()
                for p in paths:
                    digest.update(p.name.encode() + b"\0" + (b"" if p.is_dir() else p.read_bytes()))
                self.value, self.hash, self._key = value, digest.hexdigest()[:16], key
            return self.value, self.hash


@functools.lru_cache(maxsize=8)
def _digest(rules: lifecycle.LifecycleRules) -> str:
    """The rules' content hash, once per value (they are frozen, so hashable: a deploy or a test
    that changes them brings a new value)."""
    return hashlib.sha256(rules.model_dump_json().encode()).hexdigest()[:16]


def _definition_error(what: str, e: DefinitionError) -> ApplicationError:
    # a broken file needs a person, not a retry storm
    return ApplicationError(f"{what}: {e}", type="DefinitionError", non_retryable=True)


class JourneyActivities:
    def __init__(self, settings: Settings, rows: Optional[AccountRows] = None):
        """`rows`: where `decide_scores` writes a journey's row after quiet updates (none: the
        journey writes every row itself)."""
        self.settings, self.rows = settings, rows
        s = settings
        self.model: FileCache[ScoringModel] = FileCache(
            lambda: [s.scoring_model_path], lambda: load_scoring_model(s.scoring_model_path)
        )
        self.catalog: FileCache[Catalog] = FileCache(
            lambda: [*playbook_files(s.playbooks_dir), s.templates_dir],
            lambda: load_catalog(s.playbooks_dir, s.templates_dir),
        )

    @activity.defn(name="journey_decide")
    async def decide(self, req: RuleRequest) -> Outcome:
        """The deployed rules and current model applied to what the journey sent."""
        rules, model, model_hash = self._rules_and_model()
        out = journey_rules.decide(rules, model, req)
        out.model_hash, out.rules_hash = model_hash, _digest(rules)
        if req.kind == "deal":
            firsts = [
                ("onboarding", lifecycle.ONBOARDING, "deal closed"),
                ("nps", lifecycle.NPS, "NPS survey on lifecycle days 45 and 90"),
            ]
            out.starts = [self._play(*f) for f in firsts]
        elif out.decision is not None and out.decision.start:
            slot = {"score": "retention", "nps": "recovery"}.get(req.kind, req.kind)
            out.starts = [self._play(slot, out.decision.start, out.decision.note)]
        metrics.decisions(req.kind, [out])
        return out

    @activity.defn(name="journey_decide_scores")
    def decide_scores(self, req: RuleRequest) -> list[Outcome]:
        """Consecutive score updates in one call (see journey_rules.decide_scores). Synchronous
        (the worker's thread pool): it may write the journey's row to the store."""
        rules, model, model_hash = self._rules_and_model()
        outs = journey_rules.decide_scores(rules, model, req)
        for out in outs:
            out.model_hash, out.rules_hash = model_hash, _digest(rules)
        last = outs[-1]
        if last.decision is not None and last.decision.start:
            last.starts = [self._play("retention", last.decision.start, last.decision.note)]
        last.row = self._quiet_row(req, outs)
        metrics.decisions(req.kind, outs)
        return outs

    def _quiet_row(self, req: RuleRequest, outs: list[Outcome]) -> Optional[AccountRowWrite]:
        """The row quiet updates leave, written now; None if not (the journey then writes it)."""
        if self.rows is None or (row := journey_rules.quiet_row(req, outs)) is None:
            return None
        try:
            self.rows.put_account_row(row)
        except Exception as e:  # a copy of the journey's state: the journey writes it instead
            activity.logger.warning("row of %s not written with the decision: %s", row.account_id, e)
            return None
        return row

    def _rules_and_model(self) -> tuple[lifecycle.LifecycleRules, ScoringModel, str]:
        """The rules of `csrunner.domain.lifecycle` as deployed now (read at each call, so a test
        can change them like a deploy does) and the model as on disk."""
        try:
            model, model_hash = self.model.get()
        except DefinitionError as e:  # retried with backoff: the journey's updates wait for a fix
            raise ApplicationError(f"scoring model: {e}", type="ScoringModelUnavailable") from None
        return lifecycle.RULES, model, model_hash

    def _play(self, slot: str, playbook: str, reason: str) -> PlayStart:
        try:
            catalog, digest = self.catalog.get()
            defs = catalog.bundle(playbook)
        except DefinitionError as e:  # the journey records the play as not started
            return PlayStart(slot=slot, playbook=playbook, reason=reason, error=f"playbook catalog: {e}")
        return PlayStart(
            slot=slot,
            playbook=playbook,
            reason=reason,
            definitions=defs,
            span_days=lifecycle.span_days(defs, playbook),
            catalog_hash=digest,
            content_hash=defs[playbook].content_hash,
        )

    @activity.defn
    def load_definitions(self, playbook: str) -> dict[str, PlaybookDefinition]:
        """The snapshot a new play carries: this playbook and every one it can hand over to."""
        try:
            return load_catalog(self.settings.playbooks_dir, self.settings.templates_dir).bundle(playbook)
        except DefinitionError as e:
            raise _definition_error("playbook catalog", e) from None

    @activity.defn
    def load_scoring_model(self) -> ScoringModel:
        try:
            return load_scoring_model(self.settings.scoring_model_path)
        except DefinitionError as e:
            raise _definition_error("scoring model", e) from None
