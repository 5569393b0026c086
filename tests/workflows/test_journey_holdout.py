"""The journey keeps, with each play it starts, whether the account was in that play's holdout
as the definition said then: the report's with/without-email comparison does not move when ops
change holdout_percent later."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from journey_support import account, journey_worker, settings_for

from csrunner.config.settings import REPO_ROOT
from csrunner.domain.effectiveness import held_out
from csrunner.services import journeys

pytestmark = pytest.mark.filterwarnings("ignore:Module .* was imported after initial workflow load")
PERCENT = 30


def _first(inside: bool) -> str:
    return next(f"ho-{i}" for i in range(200) if held_out(f"ho-{i}", "onboarding", PERCENT) == inside)


async def test_each_play_records_its_holdout_when_it_starts(env, tmp_path):
    playbooks = tmp_path / "playbooks"
    shutil.copytree(REPO_ROOT / "playbooks", playbooks)
    onboarding = playbooks / "onboarding.yaml"
    onboarding.write_text(
        onboarding.read_text().replace("version: 1\n", f"version: 1\nholdout_percent: {PERCENT}\n", 1)
    )
    settings = settings_for(tmp_path).model_copy(update={"playbooks_dir": playbooks})
    inside, outside = _first(inside=True), _first(inside=False)
    async with journey_worker(env.client, settings, inside, outside):
        for account_id in (inside, outside):
            await journeys.deal_closed(env.client, settings, account(account_id), f"deal-{account_id}")
        await env.sleep(timedelta(minutes=5))
        views = {a: await journeys.journey_view(env.client, a) for a in (inside, outside)}
    recorded = {a: {p.playbook: p.held_out for p in v.plays} for a, v in views.items()}
    # (the NPS survey starts on day 45: test_journey_nps_schedule.py)
    assert recorded[inside] == {"onboarding": True}
    assert recorded[outside] == {"onboarding": False}
