"""Overlaid learning curves of several runs, as inline SVG.

One chart per metric: one colour per run, training solid and validation
dashed, a ring on each curve's best point. The SVG scales to the width of
its box (``viewBox``, no pixel width), uses no script and no font file,
and draws text and grid lines in ``currentColor``, so it follows the
notebook's light or dark theme. Every text in it is escaped.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Sequence

from drytorch.utils.formatting import format_number
from drytorch_nb._svg import COLORS

__all__ = ['RUN_COLORS', 'Curve', 'chart_svg']

RUN_COLORS = COLORS
"""One colour per run: the panel's series colours (light and dark themes)."""

_WIDTH = 420.0
_HEIGHT = 230.0
_LEFT = 54.0
_RIGHT = 10.0
_TOP = 24.0
_BOTTOM = 30.0
_MAX_POINTS = 400


@dataclasses.dataclass(frozen=True)
class Curve:
    """One curve of a chart.

    Attributes:
        epochs: the x values.
        values: the y values (NaN and infinities are left out).
        color: the run's colour.
        dashed: validation (dashed) or training (solid).
        best_index: the index of the best point, marked with a ring.
        label: what the curve is, for the tooltip.
    """

    epochs: Sequence[int]
    values: Sequence[float]
    color: str
    dashed: bool
    best_index: int | None
    label: str


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(
        m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw
    )
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _decimated(curve: Curve) -> list[tuple[int, float]]:
    points = [
        (int(x), float(y))
        for x, y in zip(curve.epochs, curve.values, strict=False)
        if math.isfinite(y)
    ]
    if len(points) <= _MAX_POINTS:
        return points
    stride = math.ceil(len(points) / _MAX_POINTS)
    kept = points[::stride]
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def chart_svg(title: str, curves: Sequence[Curve]) -> str:
    """An SVG line chart of the curves, titled ``title``.

    Returns:
        The ``<svg>`` element; a chart with a note when nothing is finite.
    """
    esc = html.escape
    plotted = [(curve, _decimated(curve)) for curve in curves]
    xs = [x for _, points in plotted for x, _ in points]
    ys = [y for _, points in plotted for _, y in points]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH:g} '
        f'{_HEIGHT:g}" width="100%" role="img" '
        f'style="max-width:100%;height:auto;color:inherit" '
        f'font-family="sans-serif" font-size="11">',
        f'<title>{esc(title)}</title>',
        f'<text x="{_LEFT:g}" y="14" fill="currentColor" '
        f'font-weight="bold">{esc(title)}</text>',
    ]
    if not ys:
        parts.append(
            f'<text x="{_LEFT:g}" y="{_HEIGHT / 2:g}" fill="currentColor">'
            'no finite values</text></svg>'
        )
        return ''.join(parts)
    x_low, x_high = min(xs), max(xs)
    y_low, y_high = min(ys), max(ys)
    if y_high == y_low:
        pad = abs(y_low) * 0.05 or 1.0
        y_low, y_high = y_low - pad, y_high + pad
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM

    def px(x: float) -> float:
        if x_high == x_low:
            return _LEFT + plot_w / 2
        return _LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def py(y: float) -> float:
        return _TOP + (y_high - y) / (y_high - y_low) * plot_h

    for tick in _ticks(y_low, y_high):
        y = py(tick)
        parts.append(
            f'<line x1="{_LEFT:g}" x2="{_WIDTH - _RIGHT:g}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="currentColor" stroke-opacity="0.15"/>'
            f'<text x="{_LEFT - 4:g}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="currentColor" fill-opacity="0.8">'
            f'{esc(format_number(tick))}</text>'
        )
    x_ticks = [t for t in _ticks(x_low, x_high) if float(t).is_integer()]
    for tick in x_ticks or [x_low]:
        x = px(tick)
        parts.append(
            f'<text x="{x:.1f}" y="{_HEIGHT - _BOTTOM + 14:g}" '
            f'text-anchor="middle" fill="currentColor" fill-opacity="0.8">'
            f'{int(tick)}</text>'
        )
    parts.append(
        f'<text x="{_LEFT + plot_w / 2:g}" y="{_HEIGHT - 4:g}" '
        'text-anchor="middle" fill="currentColor" fill-opacity="0.8">'
        'epoch</text>'
        f'<rect x="{_LEFT:g}" y="{_TOP:g}" width="{plot_w:g}" '
        f'height="{plot_h:g}" fill="none" stroke="currentColor" '
        'stroke-opacity="0.3"/>'
    )
    for curve, points in plotted:
        if not points:
            continue
        dash = ' stroke-dasharray="5 3"' if curve.dashed else ''
        path = ' '.join(f'{px(x):.1f},{py(y):.1f}' for x, y in points)
        parts.append(
            f'<polyline points="{path}" fill="none" '
            f'stroke="{esc(curve.color)}" stroke-width="1.8"{dash}>'
            f'<title>{esc(curve.label)}</title></polyline>'
        )
        if len(points) == 1:
            x, y = points[0]
            parts.append(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2" '
                f'fill="{esc(curve.color)}"/>'
            )
        if curve.best_index is not None:
            x = curve.epochs[curve.best_index]
            y = curve.values[curve.best_index]
            if math.isfinite(y):
                parts.append(
                    f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" '
                    f'fill="none" stroke="{esc(curve.color)}" '
                    f'stroke-width="1.6"><title>best {esc(curve.label)}: '
                    f'{esc(format_number(y))} at epoch {int(x)}</title>'
                    '</circle>'
                )
    parts.append('</svg>')
    return ''.join(parts)
