"""The journey's dashboard row (csrunner/domain/read_model.py), published when what it is built
from changed. Runs at JOURNEY_VERSION 1 write it to the store with the local activity
`publish_account_row`, or have `journey_decide_scores` write it when score updates changed only the
score (docs/changing-workflows.md, "Rows written with the decision"); runs recorded before
(version 0) upsert it in their memo, as they did. A base of AccountJourneyWorkflow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NamedTuple, Optional

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from csrunner.domain import read_model
    from csrunner.domain.journey_messages import JourneyInput, JourneyState, JourneyView

#: A store write: a few milliseconds. Tried three times; a row not written is written at the next
#: change (the journey goes on either way: the row is a copy of its state).
ROW_TIMEOUT, ROW_RETRY = timedelta(seconds=5), RetryPolicy(maximum_attempts=3)


class RowKey(NamedTuple):
    """What a journey's row is built from: when it changes, the row is published again."""

    last_event: Any  # deals, bands, alerts, NPS, facts, plays: the timeline's last event
    score: Optional[float]
    onboarding: bool
    plays: tuple  # their statuses


class JourneyRow:
    inp: JourneyInput
    state: JourneyState
    #: where the row goes: "store", "memo" (runs recorded before the store) or "" (none: a
    #: version 0 run on a server without our search attributes)
    row_to: str = ""
    _row_key: Optional[RowKey] = None  # what the published row was built from
    _row: Optional[read_model.AccountRowWrite] = None  # the row last written to the store

    def view(self) -> JourneyView:
        raise NotImplementedError  # the journey's query

    async def _row_start(self) -> None:
        """A run that continued as new writes its row at once (one write per run, every ~2,000
        events): whatever the run before did (its last write failed, or it published in its memo),
        the store then holds this state. A new journey writes once it has handled a message."""
        if self.row_to == "store" and self.inp.state is not None:
            await self._publish_row()

    async def _publish_row(self) -> None:
        """Whether to publish is decided here, from the state, never from the row's content: what
        a row holds may change freely without touching replay."""
        key = self._key() if self.row_to else None
        if key is None or key == self._row_key:
            return
        self._row_key = key
        row = read_model.account_snapshot(self.view())
        if self.row_to == "memo":
            workflow.upsert_memo({read_model.MEMO_KEY: row})
            return
        st = self.state
        st.row_seq += 1
        chain = workflow.info().first_execution_run_id
        write = read_model.AccountRowWrite(account_id=st.account_id, chain=chain, seq=st.row_seq, row=row)
        self._row = None  # until written
        try:
            await workflow.execute_local_activity(
                "publish_account_row", write, start_to_close_timeout=ROW_TIMEOUT, retry_policy=ROW_RETRY
            )
        except ActivityError:
            self._row_key = None  # published at the next change
            return
        self._row = write

    def _last_row(self) -> Optional[read_model.AccountRowWrite]:
        """Sent with score updates when the store holds this state's row: if the updates move
        nothing on it but the score, `journey_decide_scores` writes the row they leave."""
        return self._row if self.row_to == "store" and self._row_key == self._key() else None

    def _row_written(self, w: read_model.AccountRowWrite) -> None:
        """The decision came with the row its updates leave, written to the store. Taken as
        published when, of what rows are built from (`_key`), the updates changed only the score;
        else the journey writes its own after the activity's seq, which no older row replaces.
        Decided from the state and the recorded answer, never from the row's content."""
        st, before = self.state, self._row_key
        st.row_seq = max(st.row_seq, w.seq)
        if before is not None and self._key() == before._replace(score=st.score):
            self._row_key, self._row = self._key(), w

    def _key(self) -> RowKey:
        st = self.state
        last = st.timeline[-1] if st.timeline else None
        onboarding = bool(st.onboarding_until and workflow.now() < st.onboarding_until)
        return RowKey(last and (last.at, last.kind, last.text), st.score, onboarding, self._play_statuses())

    def _play_statuses(self) -> tuple:
        return tuple(p.status for p in self.state.plays)

    def _plays_moved(self) -> bool:
        """A play ended (its watcher changed it) since the row was published: publish again."""
        published = self._row_key
        return bool(self.row_to) and published is not None and self._play_statuses() != published.plays
