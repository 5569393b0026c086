"""Jinja2 rendering in a sandbox with strict undefined variables.

One file per message, `email_templates/<locale>/<name>.j2`, with blocks `subject`, `text` and
`html` (Slack templates, under `slack/`, have `text`). A missing locale falls back to English.
Any other block of an email template is a *part* a playbook may let the approver edit: it is
rendered first as plain text (its default), replaced by the approver's edit if any, and the
message blocks read it as `parts.<name>` (plain text, so the HTML block escapes it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

# the context itself is defined once, in the domain (the linter and the workflow build it too)
from csrunner.domain.context import template_context
from csrunner.domain.timefmt import human_time

__all__ = ["FALLBACK_LOCALE", "MESSAGE_BLOCKS", "Renderer", "template_context"]
FALLBACK_LOCALE = "en"
MESSAGE_BLOCKS = ("subject", "text", "html")


def _get(ctx: Context, name: str) -> dict[str, Any]:
    value = ctx.get(name)
    return value if isinstance(value, dict) else {}


@pass_context
def local_time(ctx: Context, value: Any, zone: str | None = None) -> str:
    """`{{ approval.due_at | local_time }}`: the reader's time. The reader is `reader` when the
    message has one (a Slack message to a team member), else the customer: the account's zone,
    in the contact's language. Empty for no time."""
    if value is None or value == "":
        return ""
    zone = zone or _get(ctx, "reader").get("timezone") or _get(ctx, "account").get("timezone") or "UTC"
    return human_time(value, zone, _get(ctx, "contact").get("locale", "en"))


@pass_context
def person_name(ctx: Context, pid: Any) -> Any:
    """`{{ item.assignee | person_name }}`: a person id shown as the name of the account's CSM,
    manager or executive it is; anything else as it is."""
    for role in ("csm", "manager", "executive"):
        p = _get(ctx, role)
        if p.get("id") == pid and p.get("name"):
            return p["name"]
    return pid


class Renderer:
    def __init__(self, templates_dir: Path):
        self.templates_dir = Path(templates_dir)
        self._env = {
            escape: SandboxedEnvironment(
                loader=FileSystemLoader(str(self.templates_dir)),
                undefined=StrictUndefined,
                autoescape=escape,
                keep_trailing_newline=False,
            )
            for escape in (False, True)
        }
        for env in self._env.values():
            env.filters.update(local_time=local_time, person_name=person_name)

    def environment(self, autoescape: bool) -> SandboxedEnvironment:
        """The sandbox itself (the linter parses templates with it)."""
        return self._env[autoescape]

    def template_path(self, name: str, locale: str) -> str:
        for loc in dict.fromkeys((locale, FALLBACK_LOCALE)):
            rel = f"{loc}/{name}.j2"
            if (self.templates_dir / rel).is_file():
                return rel
        raise TemplateNotFound(f"{locale}/{name}.j2")

    def part_names(self, rel: str) -> list[str]:
        """The editable parts a template defines (its blocks other than the message's)."""
        return [b for b in self._env[False].get_template(rel).blocks if b not in MESSAGE_BLOCKS]

    def parts(
        self, name: str, locale: str, context: dict[str, Any], edits: Mapping[str, str] = {}
    ) -> dict[str, str]:
        """Each part's text: the approver's edit, else the template's default."""
        rel = self.template_path(name, locale)
        tmpl = self._env[False].get_template(rel)
        return {
            b: edits[b] if b in edits else "".join(tmpl.blocks[b](tmpl.new_context(context))).strip()
            for b in self.part_names(rel)
        }

    def render_blocks(
        self,
        name: str,
        locale: str,
        context: dict[str, Any],
        blocks: tuple[str, ...],
        edits: Mapping[str, str] = {},
        parts: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The named blocks; `parts` when the caller already has them (see `parts`)."""
        rel = self.template_path(name, locale)
        if parts is None:
            parts = self.parts(name, locale, context, edits)
        context = {**context, "parts": parts}
        out: dict[str, str] = {}
        for block in blocks:
            tmpl = self._env[block == "html"].get_template(rel)
            if block not in tmpl.blocks:
                raise TemplateError(f"{rel}: missing block '{block}'")
            out[block] = "".join(tmpl.blocks[block](tmpl.new_context(context))).strip()
        if "subject" in out and edits.get("subject"):
            out["subject"] = edits["subject"]
        return out
