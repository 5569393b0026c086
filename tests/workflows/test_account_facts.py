"""Account facts (issue 11) through the journey: told by the deal, a score feed (single and batch)
or the CSV import, kept in the journey, merged name by name, and read by the healthy play's
"Outstanding Results This Month!" email (seed 004); with no facts the email says the numbers come
on the call instead of showing "n/a"."""

from __future__ import annotations

import email
from email.message import Message

from journey_support import Clock, account, journey_worker, settings_for

from csrunner.services import journeys
from csrunner.services.score_import import import_scores


def email_text(settings, key: str) -> str:
    path = settings.outbox_dir / "email" / (key.replace(":", "_").replace("/", "_") + ".eml")
    msg: Message = email.message_from_bytes(path.read_bytes())
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in msg.walk()
        if p.get_content_maintype() == "text"
    }
    return parts["text/plain"] + parts["text/html"]


def results_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("📊 This Month's Results:")
    return lines[start + 1 : lines.index("🚀 What's Next:") - 1]


async def test_facts_from_deal_and_feeds_reach_the_healthy_email(env, tmp_path):
    settings, client, clock = settings_for(tmp_path), env.client, Clock(env)
    rich = account("facts-a").model_copy(update={"facts": {"tier": "Gold", "revenue_generated": 1000}})
    async with journey_worker(client, settings, "facts-a", "facts-b"):
        await clock.start()
        await journeys.deal_closed(client, settings, rich, "deal-fa")
        await journeys.deal_closed(client, settings, account("facts-b"), "deal-fb")
        await clock.to(16, 9)  # past onboarding and scaling
        # facts alone (the feed's single call): kept, nothing scored
        await journeys.push_score(
            client,
            settings,
            "facts-a",
            facts={"revenue_generated": 48200, "industry_open_rate_percent": 21.5},
        )
        await env.sleep(60)
        before = await journeys.journey_view(client, "facts-a")
        # the batch path: a score with facts beside it
        update = journeys.score_update(
            settings, score=88, facts={"roi_percent": 340, "open_rate_percent": 34}
        )
        await journeys.apply_batch(client, settings, "facts-a", [update], "batch-fa-1")
        await journeys.push_score(client, settings, "facts-b", score=90)
        await env.sleep(120)
        a = await journeys.journey_view(client, "facts-a")
        b = await journeys.journey_view(client, "facts-b")
        text_a = email_text(settings, "journey:facts-a/retention-healthy/1/retention-healthy/results-email")
        text_b = email_text(settings, "journey:facts-b/retention-healthy/1/retention-healthy/results-email")
    assert (before.score, before.updates) == (None, 0)
    assert a.facts == {
        "tier": "Gold",
        "revenue_generated": 48200,  # the feed's value replaced the deal's
        "industry_open_rate_percent": 21.5,
        "roi_percent": 340,
        "open_rate_percent": 34,
    }
    assert [e.text for e in a.timeline if e.kind == "facts"] == [
        "facts updated: revenue_generated, tier",
        "facts updated: industry_open_rate_percent, revenue_generated",
        "facts updated: open_rate_percent, roi_percent",
    ]
    assert (a.band, b.band, b.facts) == ("healthy", "healthy", {})
    assert results_lines(text_a) == [
        "• Open Rate: 34% (vs 21.5% industry average)",
        "• Revenue Generated: $48,200 (ROI: 340%)",
    ]
    assert "Revenue Generated: <strong>$48,200</strong> (ROI: 340%)" in text_a
    assert results_lines(text_b) == [
        "• Your full numbers for this month are being compiled: I'll walk you through them on our call."
    ]
    for text in (text_a, text_b):
        assert "n/a" not in text and "$ " not in text and ": \n" not in text


async def test_csv_fact_columns_reach_the_journey(env, tmp_path):
    settings, client, clock = settings_for(tmp_path), env.client, Clock(env)
    csv = tmp_path / "scores.csv"
    csv.write_text(
        "account_id,score,revenue_generated,open_issues,contract_end\n"
        'facts-c,85,"12,500",Slow sync;Missing SSO,2027-03-31\n'
        "facts-c,,,,2027-06-30\n"
    )
    async with journey_worker(client, settings, "facts-c"):
        await clock.start()
        await journeys.deal_closed(client, settings, account("facts-c"), "deal-fc")
        await clock.to(16, 9)
        summary = await import_scores(client, settings, csv)
        view = await journeys.journey_view(client, "facts-c")
    assert (summary.rows, view.score, view.updates) == (2, 85, 1)
    assert view.facts == {
        "revenue_generated": 12500,
        "open_issues": ["Slow sync", "Missing SSO"],
        "contract_end": "2027-06-30",
    }
