"""The play rules on a real journey (time-skipping server): a more urgent play preempts a less
urgent one and the preempted play ends cleanly saying so; a drop preempts expansion; cool-downs;
scores during onboarding wait for it; updates sent before the deal closes are kept."""

from __future__ import annotations

from datetime import timedelta

from journey_support import Clock, account, journey_worker, run_view, settings_for

from csrunner.services import journeys


async def settle(env, client, account_id: str):
    await env.sleep(timedelta(minutes=5))
    return await journeys.journey_view(client, account_id)


def statuses(view) -> dict[str, str]:
    return {
        p.workflow_id.split("/", 1)[1]: p.status for p in view.plays if p.slot not in ("nps", "onboarding")
    }


async def test_critical_preempts_at_risk_and_the_preempted_play_says_so(env, tmp_path):
    settings, client, clock = settings_for(tmp_path), env.client, Clock(env)
    acc = account("rules-1")
    async with journey_worker(client, settings, acc.id):
        await clock.start()
        await journeys.deal_closed(client, settings, acc, "deal-r1")
        await clock.to(16, 10)  # onboarding and scaling are over (15 days)
        push = lambda score: journeys.push_score(client, settings, acc.id, score=score)  # noqa: E731
        await push(85)
        await journeys.push_expansion_signal(client, settings, acc.id, "team_growth")
        v = await settle(env, client, acc.id)
        assert statuses(v) == {"retention-healthy/1": "running", "expansion/1": "running"}
        await push(70)  # a drop: expansion and healthy end, at-risk starts
        v = await settle(env, client, acc.id)
        assert statuses(v) == {
            "retention-healthy/1": "preempted",
            "expansion/1": "preempted",
            "retention-at-risk/1": "running",
        }
        await push(40)  # critical preempts at-risk
        v = await settle(env, client, acc.id)
        assert statuses(v)["retention-at-risk/1"] == "preempted"
        assert statuses(v)["retention-critical/1"] == "running"
        assert v.active["retention"] == "journey:rules-1/retention-critical/1"
        # every preempted play ended cleanly and its own timeline says why
        for wid in ("retention-healthy/1", "expansion/1", "retention-at-risk/1"):
            rv = await run_view(client, f"journey:rules-1/{wid}")
            ended = [(r.outcome, r.reason) for r in rv.timeline if r.outcome in ("preempted", "cancelled")]
            assert ended[0] == ("preempted", "cancelled: another play took over"), wid
            assert ended[1:] == [("cancelled", "the run was preempted")] * (len(ended) - 1)  # open items
            assert (rv.status, rv.pending) == ("completed", [])
        at_risk = await run_view(client, "journey:rules-1/retention-at-risk/1")
        assert [r.outcome for r in at_risk.timeline if r.step_id == "optimize-approval"] == [
            "requested",
            "preempted",
            "cancelled",
        ]  # it was waiting on the approval; no email went out
        assert not any(r.step_id == "optimize-email" for r in at_risk.timeline)

        await push(72)  # a rise ends critical; at-risk started minutes ago: cool-down, no restart
        await push(41)  # and critical again within its cool-down: not restarted either
        v = await settle(env, client, acc.id)
        assert statuses(v)["retention-critical/1"] == "preempted"
        assert v.plays_started == 5 and "retention" not in v.active  # (the NPS survey: on day 45)
        decisions = [
            (e.kind, e.text) for e in v.timeline if e.kind in ("play_started", "play_preempted", "decision")
        ]
    assert decisions == [
        ("play_started", "onboarding started: deal deal-r1 closed"),
        ("play_started", "retention-healthy started: band healthy"),
        ("play_started", "expansion started: healthy (healthy) with an expansion signal"),
        ("play_preempted", "expansion preempted: band fell from healthy to at_risk"),
        ("play_preempted", "retention-healthy preempted: band at_risk; it preempts retention-healthy"),
        ("play_started", "retention-at-risk started: band at_risk; it preempts retention-healthy"),
        ("play_preempted", "retention-at-risk preempted: band critical; it preempts retention-at-risk"),
        ("play_started", "retention-critical started: band critical; it preempts retention-at-risk"),
        (
            "play_preempted",
            "retention-critical preempted: band at_risk: retention-at-risk started 0 days "
            "ago, within the 14-day cool-down: not restarted, its email not re-sent; the "
            "score rose, so retention-critical ends (escalation closed)",
        ),
        (
            "decision",
            "band critical: retention-critical started 0 days ago, within the 14-day cool-down: "
            "not restarted, its email not re-sent",
        ),
    ]


async def test_scores_during_onboarding_wait_for_it(env, tmp_path):
    settings, client, clock = settings_for(tmp_path), env.client, Clock(env)
    acc = account("rules-2")
    async with journey_worker(client, settings, acc.id):
        await clock.start()
        await journeys.deal_closed(client, settings, acc, "deal-r2")
        await clock.to(3, 10)
        await journeys.push_score(client, settings, acc.id, score=65)
        v = await settle(env, client, acc.id)
        assert (v.phase, v.band, "retention" in v.active) == ("onboarding", "at_risk", False)
        await clock.to(15, 12)  # onboarding (8 days) + scaling (7 days) are over
        v = await settle(env, client, acc.id)
    assert v.phase == "lifecycle" and v.active["retention"] == "journey:rules-2/retention-at-risk/1"
    assert [(e.day, e.text) for e in v.timeline if e.kind in ("decision", "play_started")][-2:] == [
        (
            3,
            "onboarding runs until "
            + f"{clock.base + timedelta(days=15):%Y-%m-%d}"
            + "; retention-at-risk waits for it",
        ),
        (15, "retention-at-risk started: band at_risk"),
    ]


async def test_updates_before_the_deal_closes_are_kept(env, tmp_path):
    settings, client = settings_for(tmp_path), env.client
    acc = account("rules-3")
    async with journey_worker(client, settings, acc.id):
        wid = await journeys.push_score(client, settings, acc.id, score=55, source="early feed")
        await journeys.push_nps(client, settings, acc.id, 9)
        v = await settle(env, client, acc.id)
        assert (wid, v.phase, v.waiting, v.updates, v.band) == (
            "journey:rules-3",
            "waiting_for_deal",
            2,
            0,
            "",
        )
        assert await journeys.deal_closed(client, settings, acc, "deal-r3") == (wid, True)
        assert await journeys.deal_closed(client, settings, acc, "deal-r3") == (wid, False)
        assert await journeys.deal_closed(client, settings, acc, "deal-r3-upsell") == (wid, False)
        v = await settle(env, client, acc.id)
    assert (v.phase, v.waiting, v.updates, v.score, v.band) == ("onboarding", 0, 1, 55.0, "critical")
    assert [n.score for n in v.nps] == [9]
    assert [d.deal_id for d in v.deals] == ["deal-r3", "deal-r3-upsell"]
    # applied in the order they arrived, once the lifecycle had started
    assert [e.text for e in v.timeline][3:] == [
        "score 55 (critical)",
        f"onboarding runs until {v.closed_at + timedelta(days=15):%Y-%m-%d}; retention-critical waits for it",
        "NPS 9 (promoter); account NPS 100",
        "no referral ask: ROI not measurable yet (roi_pct unknown, needs 100+)",
        "deal deal-r3-upsell closed; recorded (lifecycle already running)",
    ]
