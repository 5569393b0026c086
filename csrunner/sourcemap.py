"""YAML with positions, so every error can say file:line:column.

We parse twice from the same text: `yaml.safe_load` for the data and `yaml.compose` for the node
tree, which keeps each key's and value's mark. A pydantic error's `loc` is then walked through the
node tree to the deepest node that exists.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml
from pydantic import ValidationError


@dataclass(frozen=True)
class Issue:
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class DefinitionError(ValueError):
    """One or more problems in input files; all of them, not only the first."""

    def __init__(self, issues: Sequence[Issue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass
class YamlDocument:
    file: str
    data: Any
    root: yaml.Node | None
    _unused: list = field(default_factory=list)

    def locate(self, loc: Iterable[Any]) -> tuple[int, int]:
        """Line and column (1-based) of the deepest node along `loc`; a key's own position."""
        node, mark = self.root, (self.root.start_mark if self.root else None)
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                hit = next(((k, v) for k, v in node.value if k.value == str(part)), None)
                if hit is None:
                    break
                mark, node = hit[0].start_mark, hit[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
                mark = node.start_mark
            else:
                break
        return (mark.line + 1, mark.column + 1) if mark else (1, 1)

    def issue(self, loc: Iterable[Any], message: str) -> Issue:
        line, col = self.locate(loc)
        return Issue(self.file, line, col, message)


def read_yaml(path: str | Path, text: str | None = None) -> YamlDocument:
    """Parse a YAML (or JSON) file; a syntax error becomes a DefinitionError with its position."""
    name = str(path)
    try:
        if text is None:
            text = Path(path).read_text(encoding="utf-8")
        return YamlDocument(name, yaml.safe_load(text), yaml.compose(text))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise DefinitionError([Issue(name, line, col, f"invalid YAML: {e.problem or e}")]) from None
    except yaml.YAMLError as e:  # non-marked errors (rare): still name the file
        raise DefinitionError([Issue(name, 1, 1, f"invalid YAML: {e}")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DefinitionError([Issue(name, 1, 1, f"cannot read file: {e}")]) from None


def issues_from_validation(doc: YamlDocument, err: ValidationError, describe=None) -> list[Issue]:
    """Turn pydantic errors into positioned issues. `describe(loc)` may prefix context
    such as "step 'day4-approve'"."""
    issues = []
    for e in err.errors(include_url=False):
        loc = _data_path(doc.data, e["loc"])
        if e["type"] == "union_tag_invalid":
            loc.append("kind")
        where = ".".join(str(p) for p in loc) or "(document)"
        prefix = describe(loc) if describe else None
        msg = _message(e, where)
        issues.append(doc.issue(loc, f"{prefix}: {msg}" if prefix else msg))
    return issues


def _data_path(data: Any, loc: Sequence[Any]) -> list[Any]:
    """Drop the parts pydantic adds for tagged unions (the tag, e.g. 'email') so `loc`
    follows the document again."""
    path = []
    for part in loc:
        if isinstance(data, dict) and part not in data and data.get("kind") == part:
            continue
        path.append(part)
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            data = None
    return path


def _message(e: dict, where: str) -> str:
    kind, ctx = e["type"], e.get("ctx") or {}
    if kind == "missing":
        return f"field '{where}' is required"
    if kind == "extra_forbidden":
        return f"unknown field '{where}'"
    if kind == "union_tag_invalid":
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        return f"unknown kind {ctx.get('tag')!r} (expected one of: {expected})"
    return f"field '{where}': {e['msg']}"
