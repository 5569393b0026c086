"""Health scoring as data (SPEC §4): groups of components, each scored from metrics by a point
table, a category table, bonus rules or a 0-100 sub-score; bands with a rank and a play.

PURE: imported by workflow code. No yaml, no files, no clock (see scoring_loader for files).
"""

from __future__ import annotations

import math
import operator
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from csrunner.domain.triggers import TRIGGER_METRICS, Observation, TriggerConfig
from csrunner.domain.values import check_health_score

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
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


class ScoreResult(BaseModel):
    score: float  # 0-100, one decimal
    band: str
    band_rank: int
    play: str
    points: dict[str, float]  # per component present, in that component's own points
    available_points: float  # sum of max_points of what was scored (100 when complete)
    used: list[str]
    missing: list[str]
    partial: bool
    note: str = ""


def band_for(model: ScoringModel, score: float) -> Band:
    score = check_health_score(score)
    return max((b for b in model.bands if b.min <= score), key=lambda b: b.min)  # 79.5 → 60-79


def _number(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"metric '{name}' must be a number, got {v!r}")
    return float(v)


def _norm(v: str) -> str:
    return "_".join(str(v).strip().lower().replace("-", " ").split())


def _points(c: Component, metrics: dict[str, Any]) -> Optional[tuple[float, float]]:
    """(points, max points available) from the metrics present; None when none is."""
    scale = c.max_points / (c.out_of or c.max_points)
    if isinstance(c, BonusComponent):
        present = [r for r in c.rules if metrics.get(r.metric) is not None]
        if not present:
            return None
        got = 0.0
        for r in present:
            v = metrics[r.metric]
            v = v if isinstance(r.value, bool) else _number(r.metric, v)
            got += r.points if _OPS[r.op](v, r.value) else 0
        return got * scale, sum(r.points for r in present) * scale
    v = metrics.get(c.metric)
    if v is None:
        return None
    if isinstance(c, CategoryComponent):
        table = {_norm(k): p for k, p in c.categories.items()}
        if _norm(v) not in table:
            raise ValueError(f"metric '{c.metric}' must be one of {', '.join(c.categories)}; got {v!r}")
        raw = table[_norm(v)]
    elif isinstance(c, TableComponent):
        v = _number(c.metric, v)
        raw = next((r.points for r in c.rows if _OPS[r.op](v, r.value)), c.otherwise)
    else:
        raw = _number(c.metric, v)
        if not 0 <= raw <= c.out_of:
            raise ValueError(f"metric '{c.metric}' must be from 0 to {c.out_of:g}, got {v!r}")
    return raw * scale, c.max_points


def score_metrics(model: ScoringModel, metrics: dict[str, Any]) -> ScoreResult:
    """Score raw metrics. Missing (or null) metrics make a partial score: the points got are
    rescaled against the max points of what is present, so 100 stays the top."""
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics must be a mapping of name to value, got {type(metrics).__name__}")
    known = model.metric_names()
    unknown = sorted(set(metrics) - set(known) - TRIGGER_METRICS)
    if unknown:
        raise ValueError(
            f"unknown metrics: {', '.join(unknown)} (model '{model.name}' scores: "
            f"{', '.join(known)}; triggers use: {', '.join(sorted(TRIGGER_METRICS))})"
        )
    points, got, available = {}, 0.0, 0.0
    for c in model.components():
        hit = _points(c, metrics)
        if hit:
            points[c.name] = round(hit[0], 6)
            got, available = got + hit[0], available + hit[1]
    used = [m for m in known if metrics.get(m) is not None]
    missing = [m for m in known if metrics.get(m) is None]
    if not used:
        raise ValueError(f"no scoring metrics given; model '{model.name}' scores: {', '.join(known)}")
    partial = bool(missing)
    score = round(got / available * 100 if partial else got, 1)
    band = band_for(model, score)
    note = (
        (
            f"partial: scored {len(used)} of {len(known)} metrics ({round(got, 2):g} of "
            f"{round(available, 2):g} available points), rescaled to 0-100; missing: {', '.join(missing)}"
        )
        if partial
        else ""
    )
    return ScoreResult(
        score=score,
        band=band.name,
        band_rank=band.rank,
        play=band.play,
        points=points,
        available_points=round(available, 6),
        used=used,
        missing=missing,
        partial=partial,
        note=note,
    )


def make_observation(
    model: ScoringModel, at: Any, metrics: Optional[dict[str, Any]] = None, score: Optional[float] = None
) -> Observation:
    """An Observation for the triggers: from a ready `score` (metrics then only feed triggers)
    or, without one, from scoring `metrics`."""
    metrics = dict(metrics or {})
    if score is None:
        score = score_metrics(model, metrics).score
    else:
        unknown = sorted(set(metrics) - set(model.metric_names()) - TRIGGER_METRICS)
        if unknown:
            raise ValueError(f"unknown metrics: {', '.join(unknown)}")
    band = band_for(model, score)
    return Observation(at=at, score=score, band=band.name, band_rank=band.rank, metrics=metrics)
