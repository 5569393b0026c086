"""`holdout_percent` in a playbook file: 0-50, a clear error with file and line otherwise, and a
playbook without one keeps the content hash it always had (published versions stay the same)."""

from __future__ import annotations

import pytest
from support import catalog
from test_validation import errors

from csrunner.domain.definitions import PlaybookDefinition


@pytest.mark.parametrize(
    "value, message",
    [("60", "less than or equal to 50"), ("-1", "greater than or equal to 0")],
)
def test_a_holdout_outside_0_to_50_names_file_line_and_field(tmp_path, value, message):
    found = errors(tmp_path, ("name: Trial\n", f"name: Trial\nholdout_percent: {value}\n"))
    assert found == [f"trial.yaml:3:1: field 'holdout_percent': Input should be {message}"]


def test_a_holdout_changes_the_hash_and_none_leaves_it_alone():
    onboarding = catalog().definitions["onboarding"]
    data = onboarding.model_dump(mode="json")
    del data["holdout_percent"]
    assert PlaybookDefinition.model_validate(data).content_hash == onboarding.content_hash
    held = onboarding.model_copy(update={"holdout_percent": 10})
    assert held.content_hash != onboarding.content_hash
