"""The journey's command line (`csr score`, `csr nps`, `csr expansion`, `csr import-scores`,
`csr journey`) against the time-skipping server: the CLI connects through TEMPORAL_ADDRESS like
anywhere else; it runs in a thread because it starts its own event loop."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner
from journey_support import Clock, account, journey_worker, settings_for

from csrunner.interfaces.cli.main import main
from csrunner.services import journeys


def csr(env, settings, *args: str):
    runner = CliRunner()
    environ = {
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TASK_QUEUE": settings.task_queue,
        "DATA_DIR": str(settings.data_dir),
        "COLUMNS": "200",
    }
    return asyncio.to_thread(runner.invoke, main, list(args), env=environ, catch_exceptions=False)


@pytest.mark.parametrize(
    "command", ["score", "nps", "expansion", "import-scores", "journey", "deal-closed", "facts"]
)
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Usage: main " + command in result.output.replace("csr ", "main ")


async def test_score_nps_and_expansion_commands(env, tmp_path):
    settings, client = settings_for(tmp_path), env.client
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"login_frequency": "weekly", "roi_pct": 250, "support_rating": 8}))
    async with journey_worker(client, settings, "cli-1"):
        await journeys.deal_closed(client, settings, account("cli-1"), "deal-c1")
        out = await csr(env, settings, "score", "cli-1", "--score", "55")
        assert (out.exit_code, out.output) == (0, "sent to journey:cli-1\n")
        out = await csr(env, settings, "score", "cli-1", "--metrics", str(metrics), "--source", "analytics")
        assert out.exit_code == 0
        out = await csr(env, settings, "nps", "cli-1", "9", "--comment", "Love it")
        assert (out.exit_code, out.output) == (0, "sent to journey:cli-1 (promoter)\n")
        out = await csr(env, settings, "expansion", "cli-1", "team_growth", "--detail", "new team")
        assert out.exit_code == 0
        await env.sleep(60)
        out = await csr(env, settings, "journey", "cli-1", "--json")
    view = json.loads(out.output)
    assert (view["updates"], view["band"]) == (2, "at_risk")  # 7 + 10 + 7 of 35 points → 68.6
    assert view["score"] == 68.6 and view["score_note"].startswith("partial: scored 3 of 11 metrics")
    assert [n["score"] for n in view["nps"]] == [9]
    assert [e["text"] for e in view["timeline"]][-2:] == [
        "expansion signal 'team_growth': new team",
        "expansion signal noted; no expansion play during onboarding",
    ]


@pytest.mark.parametrize(
    "args,message",
    [
        (["score", "cli-x", "--score", "120"], "score: score must be a number from 0 to 100, got 120.0"),
        (["score", "cli-x"], "give exactly one of --score or --metrics"),
        (["nps", "cli-x", "11"], "score must be a whole number from 0 to 10 (NPS), got 11"),
        (["score", "bad id", "--score", "50"], "account_id must be 1-100 letters"),
        (["facts", "cli-x", "revenue_generated=lots"], "facts.revenue_generated: money must be a number"),
        (["facts", "cli-x", "tier"], "'tier': write each fact as name=value"),
    ],
)
def test_bad_input_is_one_clear_line_and_nothing_is_sent(args, message):
    # no Temporal at this address: had anything been sent, the error would be a connection error
    result = CliRunner().invoke(main, args, env={"TEMPORAL_ADDRESS": "127.0.0.1:1"})
    assert result.exit_code == 1
    assert "invalid input, nothing sent" in result.output and message in result.output


async def test_import_scores_prints_what_changed(env, tmp_path):
    settings, client, clock = settings_for(tmp_path), env.client, Clock(env)
    csv = tmp_path / "scores.csv"
    csv.write_text(
        "account_id,score,roi_pct,login_frequency,open_rate_pct\n"
        "imp-a,85,,,\n"
        "imp-b,45,,,\n"
        "imp-c,,250,daily,35\n"
        "imp-a,,300,daily,40\n"
    )
    async with journey_worker(client, settings, "imp-a", "imp-b", "imp-c"):
        await clock.start()
        await journeys.deal_closed(client, settings, account("imp-a"), "deal-a")
        await journeys.deal_closed(client, settings, account("imp-b"), "deal-b")
        await clock.to(16, 9)  # past onboarding and scaling
        await journeys.push_score(client, settings, "imp-b", score=85)
        await env.sleep(60)
        out = await csr(env, settings, "import-scores", str(csv))
        b = await journeys.journey_view(client, "imp-b")
        a_events = (await client.get_workflow_handle("journey:imp-a").fetch_history()).events
    assert out.exit_code == 0, out.output
    text = out.output
    assert "4 rows for 3 accounts applied in" in text
    # imp-a's two rows reached its journey as one batch (one update-with-start, no signal)
    accepted = [e for e in a_events if e.HasField("workflow_execution_update_accepted_event_attributes")]
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in a_events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert (len(accepted), signals) == (1, ["deal_closed"])
    assert "│ critical │ 1        │" in text and "│ healthy  │ 1        │" in text
    assert "band changes: 2\n  imp-a: unscored → healthy\n  imp-b: healthy → critical\n" in text
    assert (
        "plays started: 2\n  journey:imp-a/retention-healthy/1\n  journey:imp-b/retention-critical/1\n"
        in text
    )
    assert "escalations (trigger alerts sent): 1" in text
    assert "kept until their deal closes: imp-c" in text
    assert [t.name for t in b.last_triggers] == ["band_drop", "score_drop_window", "health_below"]


async def test_import_rejects_a_bad_file_and_sends_nothing(env, tmp_path):
    settings = settings_for(tmp_path)
    csv = tmp_path / "bad.csv"
    csv.write_text("account_id,score\nimp-z,80\nimp-z,180\n")
    out = await csr(env, settings, "import-scores", str(csv))
    assert out.exit_code == 1
    assert f"{csv}:3: score: score must be a number from 0 to 100, got 180.0" in out.output
    with pytest.raises(Exception):  # no journey was started for imp-z
        await journeys.journey_view(env.client, "imp-z")


async def test_facts_command_and_journey_shows_them(env, tmp_path):
    settings, client = settings_for(tmp_path), env.client
    async with journey_worker(client, settings, "cli-f"):
        await journeys.deal_closed(client, settings, account("cli-f"), "deal-cf")
        out = await csr(
            env, settings, "facts", "cli-f", "revenue_generated=48,200", "open_issues=Slow sync;No SSO"
        )
        assert (out.exit_code, out.output) == (0, "sent to journey:cli-f: open_issues, revenue_generated\n")
        await env.sleep(60)
        shown = await csr(env, settings, "journey", "cli-f")
    assert shown.exit_code == 0, shown.output
    assert "│ open_issues       │ Slow sync; No SSO │" in shown.output
    assert "│ revenue_generated │ 48200             │" in shown.output
