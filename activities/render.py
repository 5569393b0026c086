"""Jinja2 rendering in a sandbox with strict undefined variables.

One file per message, `email_templates/<locale>/<name>.j2`, with blocks `subject`, `text` and
`html` (Slack templates, under `slack/`, have `text`). A missing locale falls back to English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

# the context itself is defined once, in the domain (the linter and the workflow build it too)
from csrunner.domain.context import template_context

__all__ = ["FALLBACK_LOCALE", "Renderer", "template_context"]
FALLBACK_LOCALE = "en"


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

    def environment(self, autoescape: bool) -> SandboxedEnvironment:
        """The sandbox itself (the linter parses templates with it)."""
        return self._env[autoescape]

    def template_path(self, name: str, locale: str) -> str:
        for loc in dict.fromkeys((locale, FALLBACK_LOCALE)):
            rel = f"{loc}/{name}.j2"
            if (self.templates_dir / rel).is_file():
                return rel
        raise TemplateNotFound(f"{locale}/{name}.j2")

    def render_blocks(
        self, name: str, locale: str, context: dict[str, Any], blocks: tuple[str, ...]
    ) -> dict[str, str]:
        rel = self.template_path(name, locale)
        out: dict[str, str] = {}
        for block in blocks:
            tmpl = self._env[block == "html"].get_template(rel)
            if block not in tmpl.blocks:
                raise TemplateError(f"{rel}: missing block '{block}'")
            out[block] = "".join(tmpl.blocks[block](tmpl.new_context(context))).strip()
        return out
