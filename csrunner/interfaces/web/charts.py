"""Charts for the dashboard as inline SVG, drawn here on the server: no script, no CDN, and only
presentation attributes (the CSP allows no inline style). Each chart has a <title> and its
numbers as text, so it reads without colour and in a screen reader."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

#: Colours by band name (others take the palette in order), healthiest first.
BAND_COLOURS = {
    "thriving": "#1b7f3b",
    "healthy": "#3fa663",
    "stable": "#9ab83a",
    "at_risk": "#e0a526",
    "critical": "#c8402f",
    "unscored": "#b8bec6",
}
PALETTE = ["#2457c5", "#7c4dbe", "#0e8a8a", "#b45309", "#5f6b76"]


def colour(name: str, i: int) -> str:
    return BAND_COLOURS.get(name, PALETTE[i % len(PALETTE)])


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{"".join(body)}</svg>'
    )


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="#1d232a">{escape(text)}</text>'
    )


def stacked_weeks(weeks: list[tuple[str, dict[str, int]]], order: list[str], title: str) -> Markup:
    """One stacked column per week (label, {series: count}), series in `order`, with a legend."""
    width, height, left, top, bottom = 640, 240, 34, 10, 46
    plot_h, n = height - top - bottom, max(len(weeks), 1)
    col = (width - left - 10) / n
    peak = max((sum(c.values()) for _, c in weeks), default=0) or 1
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#5f6b76"/>',
        _text(left - 4, top + 8, str(peak), "end"),
        _text(left - 4, top + plot_h, "0", "end"),
    ]
    for i, (label, counts) in enumerate(weeks):
        x, y = left + i * col + col * 0.15, float(top + plot_h)
        for j, series in enumerate(order):
            n_ = counts.get(series, 0)
            if not n_:
                continue
            h = plot_h * n_ / peak
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{col * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{colour(series, j)}"><title>{escape(f"{label}: {series} {n_}")}</title></rect>'
            )
        body.append(_text(x + col * 0.35, top + plot_h + 14, label, "middle", 9))
    for j, series in enumerate(order):  # legend
        lx = left + j * 100
        body.append(f'<rect x="{lx}" y="{height - 16}" width="10" height="10" fill="{colour(series, j)}"/>')
        body.append(_text(lx + 14, height - 7, series))
    return _svg(width, height, title, body)


def bars(
    items: list[tuple[str, float | None]], title: str, unit: str = "", marks: Sequence[float] = ()
) -> Markup:
    """Horizontal bars (label, value; None drawn as 'no data'); `marks`: target lines (same scale)."""
    width, row, left = 640, 24, 190
    height = max(len(items), 1) * row + 24
    values = [v for _, v in items if v is not None]
    lo = min([0.0, *values, *marks])
    hi = max([1.0, *values, *marks])
    scale = (width - left - 60) / (hi - lo)
    zero = left + (0 - lo) * scale
    body = [f'<line x1="{zero:.1f}" y1="4" x2="{zero:.1f}" y2="{height - 18}" stroke="#5f6b76"/>']
    for i, (label, v) in enumerate(items):
        y = 6 + i * row
        body.append(_text(left - 6, y + 14, label, "end"))
        if v is None:
            body.append(_text(zero + 4, y + 14, "no data"))
            continue
        x0, x1 = sorted((zero, left + (v - lo) * scale))
        body.append(
            f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{row - 8}" '
            f'fill="{PALETTE[0] if v >= 0 else "#c8402f"}"/>'
        )
        body.append(_text(x1 + 4, y + 14, f"{v:g}{unit}"))
    for m in marks:
        x = left + (m - lo) * scale
        body.append(
            f'<line x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="{height - 18}" stroke="#b45309" '
            'stroke-dasharray="4 3"/>'
        )
        body.append(_text(x, height - 4, f"target {m:g}", "middle", 10))
    return _svg(width, height, title, body)


def paired_bars(
    items: list[tuple[str, float | None, float | None]], names: tuple[str, str], title: str
) -> Markup:
    """Two bars per label (e.g. emailed vs held out), 0-100 %."""
    width, row, left = 640, 40, 190
    height = max(len(items), 1) * row + 26
    scale = (width - left - 60) / 100
    body = []
    for i, (label, a, b) in enumerate(items):
        y = 4 + i * row
        body.append(_text(left - 6, y + 20, label, "end"))
        for k, v in enumerate((a, b)):
            yy = y + k * 16
            if v is None:
                body.append(_text(left + 4, yy + 12, f"{names[k]}: no data"))
                continue
            body.append(
                f'<rect x="{left}" y="{yy}" width="{max(v * scale, 1):.1f}" height="13" fill="{PALETTE[k]}"/>'
            )
            body.append(_text(left + v * scale + 4, yy + 11, f"{names[k]} {v:g}%"))
    for k, name in enumerate(names):
        lx = left + k * 120
        body.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{PALETTE[k]}"/>')
        body.append(_text(lx + 14, height - 5, name))
    return _svg(width, height, title, body)
