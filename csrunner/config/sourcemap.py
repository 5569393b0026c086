"""YAML with positions, so every error can say file:line:column.

We parse twice from the same text: `yaml.safe_load` for the data and `yaml.compose` for the node
tree, which keeps each key's and value's mark. A pydantic error's `loc` is then walked through the
node tree to the deepest node that exists. Errors point at the field's key (or the list item),
which is where an editor should put the cursor.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

    def locate(self, loc: Iterable[Any]) -> tuple[int, int]:
        """Line and column (1-based) of the deepest node along `loc`; a key's own position."""
        node, mark = self.root, (self.root.start_mark if self.root else None)
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                hit = next(
                    (
                        (k, v)
                        for k, v in reversed(node.value)  # the last duplicate wins, as in the data
                        if isinstance(k, yaml.ScalarNode) and k.value == str(part)
                    ),
                    None,
                )
                if hit is None:
                    break
                mark, node = hit[0].start_mark, hit[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                mark = node.start_mark
            else:
                break
        return (mark.line + 1, mark.column + 1) if mark else (1, 1)

    def issue(self, loc: Iterable[Any], message: str) -> Issue:
        line, col = self.locate(loc)
        return Issue(self.file, line, col, message)

    def duplicate_keys(self) -> list[Issue]:
        """safe_load keeps the last of two equal keys without a word; ops would never notice."""
        issues, todo = [], [self.root] if self.root is not None else []
        seen_nodes: set[int] = set()
        while todo:
            node = todo.pop()
            if id(node) in seen_nodes:  # aliases share nodes
                continue
            seen_nodes.add(id(node))
            if isinstance(node, yaml.MappingNode):
                first: dict[str, yaml.Node] = {}
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value != "<<":
                        if k.value in first:
                            issues.append(
                                Issue(
                                    self.file,
                                    k.start_mark.line + 1,
                                    k.start_mark.column + 1,
                                    f"duplicate key '{k.value}' (also at line "
                                    f"{first[k.value].start_mark.line + 1}; only the last one counts)",
                                )
                            )
                        first.setdefault(k.value, k)
                    todo.append(v)
            elif isinstance(node, yaml.SequenceNode):
                todo.extend(node.value)
        return sorted(issues, key=lambda i: (i.line, i.column))


#: Playbooks, accounts and the team file are hand-written: far below this.
MAX_FILE_BYTES = 1 << 20


class _NoAliasLoader(yaml.SafeLoader):
    """Anchors and aliases are refused: a few hundred bytes of nested aliases (a "billion
    laughs") would otherwise expand to gigabytes once validated."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed: write it out", event.start_mark
            )
        return super().compose_node(parent, index)


def read_text(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A regular file of at most `max_bytes` (not /dev/zero, a pipe or a directory), as UTF-8.
    Errors name the file and never quote what is in it."""
    p = Path(path)
    st = p.stat()  # OSError (missing, no permission) is the caller's to word
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("not a regular file")
    with p.open("rb") as f:
        raw = f.read(max_bytes + 1)  # the size can change after stat: read at most the cap
    if len(raw) > max_bytes:
        raise ValueError(f"larger than {max_bytes // 1024} KiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


def read_yaml(path: str | Path, text: str | None = None) -> YamlDocument:
    """Parse a YAML (or JSON) file; a syntax error becomes a DefinitionError with its position."""
    name = str(path)
    try:
        if text is None:
            text = read_text(path)
        loader = _NoAliasLoader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
        return YamlDocument(name, data, root)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise DefinitionError([Issue(name, line, col, f"invalid YAML: {e.problem or e}")]) from None
    except yaml.YAMLError as e:  # non-marked errors (e.g. a control character): still name the file
        raise DefinitionError([Issue(name, 1, 1, f"invalid YAML: {e}")]) from None
    except RecursionError:  # PyYAML composes recursively: thousands of nested brackets
        raise DefinitionError([Issue(name, 1, 1, "invalid YAML: nested too deeply")]) from None
    except OSError as e:
        raise DefinitionError([Issue(name, 1, 1, f"cannot read file: {e.strerror or e}")]) from None
    except ValueError as e:
        raise DefinitionError([Issue(name, 1, 1, f"cannot read file: {e}")]) from None


def issues_from_validation(doc: YamlDocument, err: ValidationError, describe=None) -> list[Issue]:
    """Turn pydantic errors into positioned issues. `describe(loc)` may return a prefix such as
    "step 'day4-approve'", or (prefix, n): then the first n parts of loc are left out of the
    field name it shows (`deadline.then` rather than `steps.3.deadline.then`)."""
    issues = []
    for e in err.errors(include_url=False):
        loc = _data_path(doc.data, e["loc"])
        if e["type"] == "union_tag_invalid":
            loc.append("kind")
        described = describe(loc) if describe else None
        prefix, skip = described if isinstance(described, tuple) else (described, 0)
        where = ".".join(str(p) for p in loc[skip:])
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
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            data = None
    return path


#: Patterns of the format, said in words.
PATTERNS = {
    r"^[a-z0-9][a-z0-9_-]{0,62}$": "an id of lowercase letters, digits, '-' and '_' (at most 63)",
    r"^([01]\d|2[0-3]):[0-5]\d$": "a time of day as HH:MM (24-hour, e.g. 09:00)",
}


def one_of(expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" → "a, b, c"."""
    return ", ".join(p.strip(" '\"") for p in re.split(r",| or ", expected) if p.strip(" '\""))


def _message(e: Mapping[str, Any], where: str) -> str:
    kind, ctx, got = e["type"], e.get("ctx") or {}, e.get("input")
    field = f"field '{where}': " if where else ""
    if kind == "missing":
        return f"field '{where}' is required"
    if kind == "extra_forbidden":
        if not _NAME.match(str(e["loc"][-1]) if e["loc"] else ""):  # not a field name: do not echo it
            return "unknown field (a key that is not a field name)"
        return f"unknown field '{where}'"
    if kind == "union_tag_invalid":
        return (
            f"unknown kind {ctx.get('tag')!r} (expected one of: {one_of(str(ctx.get('expected_tags', '')))})"
        )
    if kind == "union_tag_not_found":
        return f"field '{where + '.' if where else ''}kind' is required"
    if kind in ("literal_error", "enum"):
        return f"{field}unknown value {_short(got)} (expected one of: {one_of(str(ctx.get('expected', '')))})"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in PATTERNS:
        return f"{field}{_short(got)} is not {PATTERNS[ctx['pattern']]}"
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return f"{field}expected a mapping (key: value lines), got {_short(got)}"
    msg = str(e["msg"])
    for noise in ("Value error, ", "Assertion failed, "):
        msg = msg.replace(noise, "")
    return f"{field}{msg}"


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
