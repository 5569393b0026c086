"""Template lint: every variable a template uses exists in the context its step renders with.

Two passes per template and context:
1. static: walk Jinja's AST for names and attribute chains (`account.name`, `csm.phone`) and
   resolve each against a sample context (csrunner/services/template_samples.py) built by the
   real `template_context`; a typo such as
   `{{ acount.name }}` is reported as file:line before anything ships. Chains guarded by
   `is defined` or `| default(...)` may end in a missing attribute; `metrics` and `facts` are open
   (their keys differ per account and run); `account.facts.<name>` must be declared in the facts
   schema (playbooks/scoring/facts.yaml), guarded or not: a guard hides a missing value, not a
   typo. Attributes starting with `_` are reported: the sandbox refuses them at render time.
2. a trial render of every block with the real sandboxed Renderer, for what the AST cannot see.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from activities.render import Renderer
from csrunner.config.catalog import Catalog
from csrunner.domain.definitions import EmailStep, SlackStep
from csrunner.domain.facts import FactsSchema
from csrunner.services.template_samples import SYSTEM_SLACK, sample_context

OPEN = {"metrics", "facts"}  # free-form per account / per run: any key may be asked for
GUARD_TESTS = {"defined", "undefined"}
GUARD_FILTERS = {"default", "d"}
BLOCKS = {"email": ("subject", "text", "html"), "slack": ("text",)}


@dataclass(frozen=True)
class LintIssue:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def lint_source(
    source: str, file: str, ctx: dict[str, Any], env: SandboxedEnvironment | None = None
) -> list[LintIssue]:
    """The static pass over one template's text."""
    env = env or SandboxedEnvironment()
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as e:
        return [LintIssue(file, e.lineno or 1, f"syntax error: {e.message}")]
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    known = set(ctx) | local | set(env.globals) | {"loop", "super", "self", "caller", "varargs", "kwargs"}
    issues: list[LintIssue] = []
    seen: set[tuple[int, str]] = set()
    for n in tree.find_all((nodes.Getattr, nodes.Getitem)):  # also on literals: ''.__class__
        attr = n.attr if isinstance(n, nodes.Getattr) else getattr(getattr(n, "arg", None), "value", None)
        if isinstance(attr, str) and attr.startswith("_"):
            seen.add((n.lineno, "internals"))
            issues.append(
                LintIssue(file, n.lineno, f"'{attr}' reaches Python internals: the sandbox refuses it")
            )
    for chain, line, guarded in _chains(tree):
        if chain[0] in local or chain[0] in env.globals or chain[0] in ("loop", "super", "self", "caller"):
            continue
        problem = _resolve(chain, ctx, known, guarded)
        if problem and (line, problem) not in seen:
            seen.add((line, problem))
            issues.append(LintIssue(file, line, problem))
    return sorted(issues, key=lambda i: i.line)


def _chains(tree: nodes.Node) -> list[tuple[list[str], int, bool]]:
    """(['account', 'name'], line, guarded) for every maximal name/attribute chain. Inside
    `{% if x.y is defined %}` the chain x.y counts as guarded."""
    out: list[tuple[list[str], int, bool]] = []
    inside: set[int] = set()

    def walk(node: nodes.Node, parent: nodes.Node | None, guards: frozenset[tuple[str, ...]]) -> None:
        if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)) and id(node) not in inside:
            chain, below = _chain(node)
            if chain:
                inside.update(id(n) for n in below)
                guarded = (
                    isinstance(parent, nodes.Test)
                    and parent.name in GUARD_TESTS
                    or isinstance(parent, nodes.Filter)
                    and parent.name in GUARD_FILTERS
                ) and parent.node is node
                guarded = guarded or any(tuple(chain[: len(g)]) == g for g in guards)
                out.append((chain, node.lineno, guarded))
        if isinstance(node, nodes.If):
            walk(node.test, node, guards)
            tests = [node.test, *node.test.find_all(nodes.Test)]
            defined = {
                tuple(c)
                for t in tests
                if isinstance(t, nodes.Test) and t.name == "defined"
                for c in [_chain(t.node)[0]]
                if c
            }
            for child in node.body:
                walk(child, node, guards | defined)
            for child in [*node.elif_, *node.else_]:
                walk(child, node, guards)
            return
        for child in node.iter_child_nodes():
            walk(child, node, guards)

    walk(tree, None, frozenset())
    return out


def _chain(node: nodes.Node) -> tuple[list[str] | None, list[nodes.Node]]:
    parts: list[str] = []
    below: list[nodes.Node] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        below.append(node)
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            parts.clear()  # x[i] or x[:16]: only what is below the index can be checked
        node = node.node
    below.append(node)
    if isinstance(node, nodes.Name) and node.ctx == "load":
        return [node.name, *reversed(parts)], below
    return None, below


def _resolve(chain: list[str], ctx: dict[str, Any], known: set[str], guarded: bool) -> str | None:
    name = chain[0]
    if name not in known:
        return (
            f"'{name}' is undefined{_mean(name, ctx)} (this template can use: {', '.join(sorted(ctx))})"
            if not (guarded and len(chain) == 1)
            else None
        )
    value: Any = ctx.get(name)
    for k, part in enumerate(chain[1:], 1):
        path = ".".join(chain[: k + 1])
        if part.startswith("_"):
            return None  # reported once above, whatever it is reached from
        if k == 2 and chain[:2] == ["account", "facts"] and isinstance(value, dict) and part not in value:
            declared = ", ".join(sorted(value)) or "none"
            return (
                f"'{path}' is not a declared fact{_mean(part, value)} "
                f"(playbooks/scoring/facts.yaml has: {declared})"
            )
        if name in OPEN or (guarded and k == len(chain) - 1):
            return None
        if isinstance(value, dict):
            if part not in value:
                has = ", ".join(sorted(value))
                return f"'{path}' is undefined{_mean(part, value)} ({'.'.join(chain[:k])} has: {has})"
            value = value[part]
        elif value is None or not hasattr(value, part):
            return f"'{path}' is undefined ({'.'.join(chain[:k])} is {type(value).__name__})"
        else:
            value = getattr(value, part)
    return None


def _mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def lint_template(
    renderer: Renderer, name: str, locale: str, kind: str, ctx: dict[str, Any]
) -> list[LintIssue]:
    """Both passes for one template file (`name` as the Renderer knows it, e.g. slack/escalation)."""
    rel = f"{locale}/{name}.j2"
    path = renderer.templates_dir / rel
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return [LintIssue(str(path), 1, f"cannot read: {e}")]
    if kind == "email":  # the template's own part blocks, as the Renderer passes them
        ctx = {**ctx, "parts": {p: "Sample text" for p in _part_names(renderer, rel)}}
    # the Renderer's own sandboxed environments (same filters, globals and undefined policy)
    issues = lint_source(source, str(path), ctx, renderer.environment(False))
    if issues:
        return issues
    try:
        for block in BLOCKS[kind]:
            tmpl = renderer.environment(block == "html").get_template(rel)
            if block not in tmpl.blocks:
                article = {"email": "an email", "slack": "a Slack"}[kind]
                return [
                    LintIssue(
                        str(path),
                        1,
                        f"missing block '{block}' ({article} template needs: {', '.join(BLOCKS[kind])})",
                    )
                ]
            "".join(tmpl.blocks[block](tmpl.new_context(ctx)))
    except TemplateError as e:
        return [LintIssue(str(path), _template_line(e, str(path)), f"does not render: {e}")]
    return []


def _part_names(renderer: Renderer, rel: str) -> list[str]:
    try:
        return renderer.part_names(rel)
    except TemplateError:
        return []  # the static pass reports the syntax error with its line


def lint_editable(renderer: Renderer, defn_id: str, step: EmailStep, locales: list[str]) -> list[LintIssue]:
    """Each part a step lets the approver edit is `subject` or a block of its template."""
    issues: list[LintIssue] = []
    for loc in locales:
        rel = f"{loc}/{step.template}.j2"
        if not (renderer.templates_dir / rel).is_file():
            continue
        parts = _part_names(renderer, rel)
        for part in step.editable:
            if part != "subject" and part not in parts:
                issues.append(
                    LintIssue(
                        str(renderer.templates_dir / rel),
                        1,
                        f"playbook '{defn_id}' step '{step.id}' lets the approver edit '{part}', but "
                        f"the template has no block '{part}' (its parts: {', '.join(parts) or 'none'})",
                    )
                )
    return issues


def _template_line(err: Exception, file: str) -> int:
    tb, line = err.__traceback__, getattr(err, "lineno", None) or 1
    while tb is not None:  # Jinja rewrites tracebacks so template frames carry template lines
        if tb.tb_frame.f_code.co_filename == file:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def lint_catalog(
    catalog: Catalog, templates_dir: Path, all_templates: bool = True, facts: FactsSchema | None = None
) -> list[LintIssue]:
    """Every template a playbook step uses, in every locale it exists in, with that step's
    context; the workflow's own Slack templates; and (all_templates) every other email template
    with the email context, so a template is clean before a playbook starts using it. `facts`: the
    declared account facts (none when not given)."""
    renderer = Renderer(Path(templates_dir))
    jobs: dict[tuple[str, str, str], dict[str, Any]] = {}
    locales = sorted(p.name for p in Path(templates_dir).iterdir() if p.is_dir())
    for defn in catalog.definitions.values():
        for step in defn.steps:
            if isinstance(step, EmailStep):
                for loc in locales:
                    if (Path(templates_dir) / loc / f"{step.template}.j2").is_file():
                        jobs.setdefault(
                            (step.template, loc, "email"), sample_context("email", (), step.id, defn, facts)
                        )
            elif isinstance(step, SlackStep):
                jobs.setdefault(
                    (f"slack/{step.template}", "en", "slack"),
                    sample_context("slack", (), step.id, defn, facts),
                )
            # an approval's Slack request uses the system template below
    for name, extra in SYSTEM_SLACK.items():
        if (Path(templates_dir) / "en" / "slack" / f"{name}.j2").is_file():
            jobs.setdefault((f"slack/{name}", "en", "slack"), sample_context("slack", extra, facts=facts))
        else:
            jobs[(f"slack/{name}", "en", "missing")] = {}
    if all_templates:
        for loc in locales:
            for p in sorted((Path(templates_dir) / loc).glob("*.j2")):
                jobs.setdefault((p.stem, loc, "email"), sample_context("email", facts=facts))
    issues: list[LintIssue] = []
    for defn in catalog.definitions.values():
        for step in defn.steps:
            if isinstance(step, EmailStep) and step.editable:
                issues += lint_editable(renderer, defn.id, step, locales)
    for (name, loc, kind), ctx in sorted(jobs.items()):
        if kind == "missing":
            issues.append(
                LintIssue(
                    f"{templates_dir}/en/{name}.j2", 1, "missing: the workflow posts this Slack template"
                )
            )
            continue
        issues += lint_template(renderer, name, loc, kind, ctx)
    return issues
