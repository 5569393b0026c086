"""Slack text is mrkdwn: values that are not ours (a customer's NPS comment, names, reasons) are
escaped, so a mention or a link in them arrives as text; our templates keep their formatting."""

from __future__ import annotations

import uuid

from support import acme

from activities.render import Renderer
from activities.slack import SlackActivities, blocks_for, escape_mrkdwn
from activities.store import SqliteLedger
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.domain.messages import SlackRequest

COMMENT = "<!channel> <https://evil.example|Re-authenticate> & more"


def test_escape_covers_every_string_inside():
    value = {"a": "<@U1>", "b": ["x & y", {"c": "<!here>"}], "n": 3}
    assert escape_mrkdwn(value) == {"a": "&lt;@U1&gt;", "b": ["x &amp; y", {"c": "&lt;!here&gt;"}], "n": 3}


def test_an_nps_comment_reaches_slack_as_text_not_a_mention_or_link(tmp_path):
    settings = Settings(data_dir=tmp_path)
    slack = SlackActivities(
        settings, Renderer(REPO_ROOT / "email_templates"), SqliteLedger(tmp_path / "l.db")
    )
    account = acme().model_copy(update={"metrics": {"nps_score": 2, "nps_comment": COMMENT}})
    req = SlackRequest(key=f"k-{uuid.uuid4().hex}", account=account, to="U01CARLOS", template="nps_detractor")
    result = slack.post_slack(req)
    assert ': "&lt;!channel&gt; &lt;https://evil.example|Re-authenticate&gt; &amp; more".' in result.text
    assert "<!channel>" not in result.text and "<https://" not in result.text
    assert result.text.startswith(":warning: *NPS detractor - Acme Retail* answered 2/10")  # ours, as is
    section = blocks_for(result.text, req)[0]["text"]
    assert section["type"] == "mrkdwn" and "&lt;!channel&gt;" in section["text"]


def test_a_decision_names_the_person_not_their_id(tmp_path):
    settings = Settings(data_dir=tmp_path)
    slack = SlackActivities(
        settings, Renderer(REPO_ROOT / "email_templates"), SqliteLedger(tmp_path / "l.db")
    )
    req = SlackRequest(
        key=f"k-{uuid.uuid4().hex}",
        account=acme(),
        to="U01MARIA",
        template="approval_decided",
        context={
            "approval": {"title": "Approve the review email", "step_id": "day4-approve"},
            "decision": {"action": "approve", "actor": "maria", "reason": ""},
        },
    )
    text = slack.post_slack(req).text
    assert text == ":white_check_mark: Approved by María García - Acme Retail: Approve the review email"
