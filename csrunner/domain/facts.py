"""Account facts as data: what a CSM or a feed may tell about an account beyond the scored metrics
(revenue generated, ROI, open issues, contract end...), declared once in `playbooks/scoring/facts.yaml`.

PURE: the schema and the value rules; csrunner.config.facts reads the file. Every entry point
(deal webhook, account file, score feeds, CSV import, `csr facts`) checks facts with
`FactsSchema.check`, which names the fact and the problem. Values are kept JSON-plain (numbers,
strings, lists of strings; a date as YYYY-MM-DD) so they travel in workflow payloads unchanged.
"""

from __future__ import annotations

import difflib
import math
import re
from datetime import date
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

FactType = Literal["number", "money", "percent", "text", "date", "list"]
_NAME = r"^[a-z][a-z0-9_]{0,49}$"
LIST_SEPARATOR = ";"  # in a CSV cell or `csr facts name=a;b`


class FactSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    type: FactType
    label: str = Field(min_length=1, max_length=100)
    description: str = ""
    min: Optional[float] = None  # number, money, percent
    max: Optional[float] = None
    max_length: int = Field(200, ge=1, le=2000)  # text, and each item of a list
    max_items: int = Field(20, ge=1, le=100)  # list

    @model_validator(mode="after")
    def _range(self) -> FactSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    def check(self, value: Any, text: bool = False) -> Any:
        """The value as kept, or ValueError saying what is wrong. `text`: the value came as a
        string (a CSV cell, the command line) and is parsed per the type."""
        if self.type in ("number", "money", "percent"):
            return self._number(value, text)
        if self.type == "date":
            return self._date(value)
        if self.type == "list":
            if text and isinstance(value, str):
                value = [v.strip() for v in value.split(LIST_SEPARATOR) if v.strip()]
            if not isinstance(value, list) or len(value) > self.max_items:
                raise ValueError(f"must be a list of at most {self.max_items} texts, got {value!r:.80}")
            return [self._text(v) for v in value]
        return self._text(value)

    def _number(self, value: Any, text: bool) -> float | int:
        if text and isinstance(value, str):
            raw = value.strip().replace(",", "").removeprefix("$").removesuffix("%")
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"must be a number, got {value!r:.80}") from None
            value = int(value) if value.is_integer() else value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"must be a number, got {value!r:.80}")
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            lo = "" if self.min is None else f"{self.min:g}"
            hi = "" if self.max is None else f"{self.max:g}"
            raise ValueError(f"must be in {lo}..{hi}, got {value}")
        return value

    def _date(self, value: Any) -> str:
        if isinstance(value, date):
            return value.isoformat()[:10]
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            try:
                return date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        raise ValueError(f"must be a date YYYY-MM-DD, got {value!r:.80}")

    def _text(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > self.max_length:
            raise ValueError(f"must be a non-empty text of at most {self.max_length} characters")
        return value.strip()

    def sample(self) -> Any:
        """A plausible value (the template lint renders with one of each)."""
        return {
            "number": 12,
            "money": 48200,
            "percent": 34.5,
            "text": f"Sample {self.label}",
            "date": "2027-03-31",
            "list": [f"Sample {self.label} 1", f"Sample {self.label} 2"],
        }[self.type]


class FactsSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    facts: list[FactSpec] = []

    def duplicates(self) -> list[int]:
        """Positions of facts declared again (the loader reports them at their line)."""
        seen: set[str] = set()
        out = []
        for i, f in enumerate(self.facts):
            if f.name in seen:
                out.append(i)
            seen.add(f.name)
        return out

    def get(self, name: str) -> Optional[FactSpec]:
        return next((f for f in self.facts if f.name == name), None)

    def names(self) -> list[str]:
        return [f.name for f in self.facts]

    def unknown(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        declared = ", ".join(self.names()) or "none"
        return f"unknown fact '{name}'{hint} (declared in playbooks/scoring/facts.yaml: {declared})"

    def check(self, facts: Any, field: str = "facts", text: bool = False) -> dict[str, Any]:
        """Validated facts, or ValueError naming the first bad one as `<field>.<name>`."""
        if not isinstance(facts, dict):
            raise ValueError(f"{field} must be a mapping of fact name to value, got {facts!r:.80}")
        out = {}
        for name, value in facts.items():
            spec = self.get(str(name))
            if spec is None:
                raise ValueError(f"{field}.{name}: {self.unknown(str(name))}")
            try:
                out[spec.name] = spec.check(value, text)
            except ValueError as e:
                raise ValueError(f"{field}.{name}: {spec.type} {e}") from None
        return out

    def samples(self) -> dict[str, Any]:
        return {f.name: f.sample() for f in self.facts}
