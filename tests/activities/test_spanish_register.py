"""The Spanish emails speak to the customer as `usted` throughout, never mixing in `tú` forms
("así que cuenta con..." was one: it reads "cuente")."""

from __future__ import annotations

import re

import pytest

from csrunner.config.settings import REPO_ROOT

TU = re.compile(
    r"\b(tienes|puedes|quieres|necesitas|cuenta con|escríbeme|avísame|respóndeme|tu|tus|te|ti|contigo)\b",
    re.IGNORECASE,
)
SPANISH = sorted((REPO_ROOT / "email_templates" / "es").glob("*.j2"))


@pytest.mark.parametrize("template", SPANISH, ids=lambda p: p.name)
def test_no_tu_forms_in_spanish_emails(template):
    found = [
        f"{template.name}:{n}: {m.group(0)!r}"
        for n, line in enumerate(template.read_text(encoding="utf-8").splitlines(), 1)
        for m in TU.finditer(line)
    ]
    assert found == []


def test_the_detractor_follow_up_reads_cuente():
    text = (REPO_ROOT / "email_templates" / "es" / "nps_detractor_followup.j2").read_text(encoding="utf-8")
    assert text.count("así que cuente con toda nuestra atención") == 2  # text and html
