"""Health scoring as data (SPEC §4): groups of components, each scored from metrics by a point
table, a category table, bonus rules or a 0-100 sub-score; bands with a rank and a play.

PURE: imported by workflow code. No yaml, no files, no clock (see scoring_loader for files).
"""

from __future__ import annotations

import math
import operator
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from csrunner.domain.triggers import TriggerConfig

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
Loc = tuple[Union[str, int], ...]
# Pass as validation context to collect semantic problems with their locations (the loader does).
DEFER_CHECKS = "defer_semantic_checks"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Row(_Data):
    """One line of a point table, e.g. `>= 300 → 15` (seed 004 ROI)."""

    op: Literal[">=", ">", "<=", "<"] = ">="
    value: float
    points: float = Field(ge=0)


class BonusRule(_Data):
    """Points when one metric passes, e.g. open rate > 30% → 5 (seed 004 performance)."""

    metric: str
    op: Literal[">=", ">", "<=", "<", "=="] = ">"
    value: Union[bool, float]
    points: float = Field(gt=0)


class _Component(_Data):
    name: str
    max_points: float = Field(gt=0)  # this component's share of the 100 (its weight)
    out_of: Optional[float] = Field(None, gt=0)  # raw points on this scale, rescaled to max_points

    def metrics(self) -> list[str]:
        return [self.metric]  # type: ignore[attr-defined]

    def raw_max(self) -> float:
        raise NotImplementedError


class TableComponent(_Component):
    """Ordered thresholds, first match wins; `otherwise` when none does."""

    kind: Literal["table"]
    metric: str
    rows: list[Row] = Field(min_length=1)
    otherwise: float = Field(0, ge=0)

    def raw_max(self) -> float:
        return max([r.points for r in self.rows] + [self.otherwise])


class CategoryComponent(_Component):
    """A categorical metric, e.g. login_frequency daily/weekly/monthly/never → 10/7/3/0."""

    kind: Literal["categories"]
    metric: str
    categories: dict[str, float] = Field(min_length=1)

    def raw_max(self) -> float:
        return max(self.categories.values())


class BonusComponent(_Component):
    """Bonus rules over several metrics, summed."""

    kind: Literal["bonuses"]
    rules: list[BonusRule] = Field(min_length=1)

    def metrics(self) -> list[str]:
        return [r.metric for r in self.rules]

    def raw_max(self) -> float:
        return sum(r.points for r in self.rules)


class ScaledComponent(_Component):
    """A ready sub-score on 0..out_of (default 0-100), scaled to max_points (seeds 000/003)."""

    kind: Literal["scaled"]
    metric: str
    out_of: float = Field(100, gt=0)

    def raw_max(self) -> float:
        return self.out_of


Component = Annotated[
    Union[TableComponent, CategoryComponent, BonusComponent, ScaledComponent], Field(discriminator="kind")
]


class Group(_Data):
    name: str
    max_points: float = Field(gt=0)
    components: list[Component] = Field(min_length=1)


class Band(_Data):
    """An inclusive integer range of the score; `rank`: higher = healthier."""

    name: str
    min: int = Field(ge=0, le=100)
    max: int = Field(ge=0, le=100)
    rank: int
    play: str


class ScoringModel(_Data):
    name: str
    description: str = ""
    groups: list[Group] = Field(min_length=1)
    bands: list[Band] = Field(min_length=1)
    triggers: TriggerConfig = Field(default_factory=TriggerConfig)

    @model_validator(mode="after")
    def _semantic_checks(self, info: ValidationInfo) -> ScoringModel:
        if not (info.context or {}).get(DEFER_CHECKS):
            found = self.problems()
            if found:
                raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in found))
        return self

    def components(self) -> list[Component]:
        return [c for g in self.groups for c in g.components]

    def metric_names(self) -> list[str]:
        return [m for c in self.components() for m in c.metrics()]

    def problems(self) -> list[tuple[Loc, str]]:
        """Everything wrong beyond field types, each with the location of the field at fault."""
        out: list[tuple[Loc, str]] = []
        seen_groups, seen_comps, seen_metrics = set(), set(), set()
        for gi, g in enumerate(self.groups):
            if g.name in seen_groups:
                out.append((("groups", gi, "name"), f"duplicate group name '{g.name}'"))
            seen_groups.add(g.name)
            total = sum(c.max_points for c in g.components)
            if not math.isclose(total, g.max_points):
                out.append(
                    (
                        ("groups", gi, "max_points"),
                        f"group '{g.name}' has max_points "
                        f"{g.max_points:g} but its components' max_points add up to {total:g}",
                    )
                )
            for ci, c in enumerate(g.components):
                at: Loc = ("groups", gi, "components", ci)
                if c.name in seen_comps:
                    out.append(((*at, "name"), f"duplicate component name '{c.name}'"))
                seen_comps.add(c.name)
                for mi, m in enumerate(c.metrics()):
                    where = (*at, "rules", mi, "metric") if isinstance(c, BonusComponent) else (*at, "metric")
                    if m in seen_metrics:
                        out.append((where, f"metric '{m}' is already scored by another component"))
                    seen_metrics.add(m)
                expected = c.out_of or c.max_points
                if not isinstance(c, ScaledComponent) and not math.isclose(c.raw_max(), expected):
                    what = "out_of" if c.out_of else "max_points"
                    out.append(
                        (
                            (*at, what),
                            f"component '{c.name}': best case gives "
                            f"{c.raw_max():g} points but {what} is {expected:g}",
                        )
                    )
                if isinstance(c, TableComponent):
                    out.extend(_table_order(c, at))
        total = sum(g.max_points for g in self.groups)
        if not math.isclose(total, 100):
            out.append((("groups",), f"groups' max_points add up to {total:g}, expected 100"))
        out.extend(self._band_problems())
        names = {b.name for b in self.bands}
        for i, name in enumerate(self.triggers.band_drop.critical_bands):
            if name not in names:
                out.append(
                    (
                        ("triggers", "band_drop", "critical_bands", i),
                        f"unknown band '{name}' (bands: {', '.join(sorted(names))})",
                    )
                )
        return out

    def _band_problems(self) -> list[tuple[Loc, str]]:
        out: list[tuple[Loc, str]] = []
        order = sorted(range(len(self.bands)), key=lambda i: self.bands[i].min)
        names, ranks = set(), set()
        for i, b in enumerate(self.bands):
            if b.min > b.max:
                out.append((("bands", i, "min"), f"band '{b.name}': min {b.min} is above max {b.max}"))
            if b.name in names:
                out.append((("bands", i, "name"), f"duplicate band name '{b.name}'"))
            if b.rank in ranks:
                out.append((("bands", i, "rank"), f"band '{b.name}': duplicate rank {b.rank}"))
            names.add(b.name)
            ranks.add(b.rank)
        first, last = self.bands[order[0]], self.bands[order[-1]]
        if first.min != 0:
            out.append(
                (
                    ("bands", order[0], "min"),
                    f"bands must start at 0; lowest is '{first.name}' from {first.min}",
                )
            )
        if max(b.max for b in self.bands) != 100:
            out.append(
                (
                    ("bands", order[-1], "max"),
                    f"bands must end at 100; highest is '{last.name}' up to {last.max}",
                )
            )
        for lo, hi in zip(order, order[1:], strict=False):
            a, b = self.bands[lo], self.bands[hi]
            if b.min > a.max + 1:
                out.append(
                    (
                        ("bands", hi, "min"),
                        f"gap between bands '{a.name}' (max {a.max}) and "
                        f"'{b.name}' (min {b.min}): {a.max + 1}..{b.min - 1} not covered",
                    )
                )
            elif b.min <= a.max:
                out.append(
                    (
                        ("bands", hi, "min"),
                        f"bands '{a.name}' ({a.min}-{a.max}) and '{b.name}' ({b.min}-{b.max}) overlap",
                    )
                )
            if b.rank <= a.rank:
                out.append(
                    (
                        ("bands", hi, "rank"),
                        f"band '{b.name}' covers higher scores than "
                        f"'{a.name}' so its rank must be higher ({b.rank} <= {a.rank})",
                    )
                )
        return out


def _table_order(c: TableComponent, at: Loc) -> list[tuple[Loc, str]]:
    """Rows must run one way (all >=/> descending, or all <=/< ascending) or some are unreachable."""
    down = {r.op in (">=", ">") for r in c.rows}
    if len(down) > 1:
        return [((*at, "rows"), f"component '{c.name}': rows mix >= / > with <= / <")]
    sign = 1 if down.pop() else -1
    return [
        (
            (*at, "rows", i, "value"),
            f"component '{c.name}': row {i} ({r.op} {r.value:g}) is never "
            f"reached after {c.rows[i - 1].op} {c.rows[i - 1].value:g}",
        )
        for i, r in enumerate(c.rows)
        if i and sign * (c.rows[i - 1].value - r.value) <= 0
    ]
