"""A play the journey is told to start carries its playbook's content hash, computed once where the
catalog is cached, equal to what the journey would compute from the definitions it receives."""

from __future__ import annotations

from activities.journey import JourneyActivities
from csrunner.config.settings import Settings
from csrunner.domain.definitions import PlaybookDefinition
from csrunner.domain.journey_rules import PlayStart


def test_a_play_start_carries_the_hash_of_its_playbook_as_received(tmp_path):
    acts = JourneyActivities(Settings(data_dir=tmp_path))
    play = acts._play("onboarding", "onboarding", "deal closed")
    received = PlayStart.model_validate_json(play.model_dump_json())  # as the journey decodes it
    fresh = PlaybookDefinition.model_validate(received.definitions["onboarding"].model_dump())
    assert received.content_hash == fresh.content_hash != ""
    assert received.content_hash != received.definitions["scaling"].content_hash
    catalog, _ = acts.catalog.get()
    assert acts._play("nps", "nps", "survey").content_hash == catalog.definitions["nps"].content_hash
