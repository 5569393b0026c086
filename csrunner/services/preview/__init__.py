"""Preview: what a playbook will do for a sample account over its whole timeline, before it ships.

It runs the real PlaybookWorkflow (and the playbooks it hands over to) on Temporal's time-skipping
test server with the real worker in outbox mode: every template is rendered by the real
activities and nothing leaves the machine. A stand-in for the people answers approvals and tasks
as the options say, 30 minutes after they open; with approvals "none" the timeline shows what the
deadlines do. Output: Markdown or HTML for review, and the diff of two versions' timelines.
"""

from csrunner.services.preview.driver import advance_to_local, answer_pending, preview, start_server
from csrunner.services.preview.model import ANSWER_AFTER, Options, Preview, Row
from csrunner.services.preview.report import Change, diff, diff_markdown, to_html, to_markdown

__all__ = [
    "ANSWER_AFTER",
    "Change",
    "Options",
    "Preview",
    "Row",
    "advance_to_local",
    "answer_pending",
    "diff",
    "diff_markdown",
    "preview",
    "start_server",
    "to_html",
    "to_markdown",
]
