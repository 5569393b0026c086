"""`journey_rules.quiet_row`: the row a run of score updates leaves when they move nothing on it but
the score, written by `journey_decide_scores` so the journey runs no write of its own. Anything
else (a band change, a trigger, a play, facts, no row known) leaves the write to the journey."""

from __future__ import annotations

from datetime import timedelta

from test_lifecycle import MODEL, NOW, play

from csrunner.domain import journey_rules, lifecycle
from csrunner.domain.journey_messages import JourneyState, ScoreUpdate
from csrunner.domain.journey_rules import RuleRequest
from csrunner.domain.read_model import AccountRowWrite
from csrunner.domain.snapshots import AccountSnapshot, BandAt

ROW = AccountRowWrite(
    account_id="acme",
    chain="run-1",
    seq=7,
    row=AccountSnapshot(
        account_id="acme", csm_id="maria", phase="lifecycle", score=85, band="healthy",
        bands=[BandAt(at=NOW - timedelta(days=30), band="healthy")],
    ),
)  # fmt: skip


def _state() -> JourneyState:
    # healthy, its retention play running: another healthy score starts nothing
    return JourneyState(
        account_id="acme", score=85, band="healthy", band_rank=3,
        plays=[play("retention-healthy", days_ago=3)], last_update_at=NOW - timedelta(days=1),
    )  # fmt: skip


def _decided(*updates: ScoreUpdate, row: AccountRowWrite | None = ROW):
    req = RuleRequest(kind="score", state=_state(), messages=list(updates), now=NOW, row=row)
    return journey_rules.quiet_row(req, journey_rules.decide_scores(lifecycle.RULES, MODEL, req))


def score(value: float, **more) -> ScoreUpdate:
    return ScoreUpdate(score=value, at=NOW, source="feed", **more)


def test_quiet_updates_leave_the_row_with_their_last_score_and_the_next_seq():
    row = _decided(score(88), score(86))
    assert row is not None
    assert (row.account_id, row.chain, row.seq) == ("acme", "run-1", 8)
    assert row.row == ROW.row.model_copy(update={"score": 86})


def test_anything_else_leaves_the_write_to_the_journey():
    assert _decided(score(88), score(30)) is None  # the band falls
    assert _decided(score(88, facts={"plan": "pro"})) is None  # facts change what plays see
    assert _decided(score(88), row=None) is None  # no row known (the last write failed)
