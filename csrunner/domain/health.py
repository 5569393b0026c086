"""Scoring one health update with a model (SPEC §4): each component's points from the metrics,
the 0-100 score, its band, and the Observation the triggers read. The model itself (groups,
components, bands, its checks) is csrunner.domain.scoring.

PURE: imported by workflow code. No I/O and no clock (`at` is an argument).
"""

from __future__ import annotations

import math
from typing import Any, Optional

from pydantic import BaseModel

from csrunner.domain.scoring import (
    OPS,
    Band,
    BonusComponent,
    CategoryComponent,
    Component,
    ScoringModel,
    TableComponent,
)
from csrunner.domain.triggers import TRIGGER_METRICS, Observation
from csrunner.domain.values import check_health_score


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
            got += r.points if OPS[r.op](v, r.value) else 0
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
        raw = next((r.points for r in c.rows if OPS[r.op](v, r.value)), c.otherwise)
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
