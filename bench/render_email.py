"""Time to render one customer email (subject, text, html and its editable parts), as the
render_email / send_email activities do, for templates with and without editable parts.

    .venv/bin/python bench/render_email.py [--n 2000]
"""

from __future__ import annotations

import argparse
import timeit

from activities.render import Renderer
from csrunner.config.accounts import load_account, load_team
from csrunner.config.settings import REPO_ROOT
from csrunner.domain.context import template_context

PLAN = "Today (2 Dec): call\nThis Week (by 5 Dec): fix the list\nNext Week (10 Dec): review"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    n = ap.parse_args().n
    r = Renderer(REPO_ROOT / "email_templates")
    acc = load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))
    ctx = template_context(acc, acc.contacts[0], {}, {})
    cases = [
        ("retention_critical", {}),
        ("retention_critical", {"action_plan": PLAN}),
        ("expansion_discovery", {"opportunity": "roll out to the new stores"}),
        ("retention_healthy", {}),
    ]
    for name, edits in cases:

        def render(name: str = name, edits: dict[str, str] = edits) -> None:
            parts = r.parts(name, "en", ctx, edits)
            r.render_blocks(name, "en", ctx, ("subject", "text", "html"), edits, parts)

        per = timeit.timeit(render, number=n) / n
        print(f"{name:<22} {'edited ' + ','.join(edits) if edits else 'defaults':<22} {per * 1e6:7.0f} µs")


if __name__ == "__main__":
    main()
