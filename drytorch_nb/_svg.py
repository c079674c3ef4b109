"""Line charts as self-contained SVG.

A chart is a plain string: it goes into an HTML widget while the run is
live and, as an image, into the static snapshot afterwards; it needs no
script, font or file. Every text in it (title, legend, tick labels) is
escaped.

What a chart shows: y ticks at round values with light grid lines, epoch
ticks on the x axis, one colour per series with training solid and
validation (any other source) dashed, a legend that says which is which,
a ring on the best point of a marked series, and a log scale when a
positive series spans more than two decades. Colours: the series use a
palette that reads on light and dark backgrounds; text and grid use
``ink`` (``currentColor`` inherits the page's text colour where the SVG is
inline; a mid grey reads on both themes where it is an image).
"""

from __future__ import annotations

import dataclasses
import html
import math
import urllib.parse
from collections.abc import Mapping, Sequence

from drytorch.utils.formatting import format_number

__all__ = [
    'COLORS',
    'DATA_URI_PREFIX',
    'MID_GREY',
    'data_uri',
    'line_chart',
    'nice_ticks',
    'svg_of_data_uri',
]

DATA_URI_PREFIX = 'data:image/svg+xml;charset=utf-8,'
"""How every chart image's ``src`` starts."""

COLORS = (
    '#3b82f6',
    '#f97316',
    '#22a06b',
    '#e5484d',
    '#8b5cf6',
    '#a16207',
    '#db2777',
    '#64748b',
)
"""Series colours, in order of appearance (readable on light and dark)."""

MID_GREY = '#808080'
"""Text colour that reads on white and on near-black backgrounds."""

_LEFT = 52
_RIGHT = 12
_TOP = 22
_BOTTOM = 30
_LEGEND_ROW = 15
_LOG_DECADES = 2.0


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high], about ``count`` of them."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(
        (m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw),
        10 * power,
    )
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def _epoch_ticks(low: float, high: float) -> list[float]:
    ticks = nice_ticks(low, high, 6)
    whole = [float(tick) for tick in ticks if float(tick).is_integer()]
    if len(whole) >= 2:
        return whole
    return [low, high] if high > low else [low]


def _bounds(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.05
    return low - pad, high + pad


def _wants_log(ys: Sequence[float]) -> bool:
    if not ys or min(ys) <= 0:
        return False
    return math.log10(max(ys) / min(ys)) > _LOG_DECADES


def _log_ticks(low: float, high: float) -> list[float]:
    """Decades between low and high (both logs), with 2 and 5 if few."""
    first, last = math.ceil(low - 1e-9), math.floor(high + 1e-9)
    ticks = [10.0**power for power in range(first, last + 1)]
    if len(ticks) < 3:
        extra = [
            m * 10.0**power
            for power in range(first - 1, last + 1)
            for m in (2, 5)
            if low <= math.log10(m * 10.0**power) <= high
        ]
        ticks = sorted(ticks + extra)
    return ticks


def _is_dashed(name: str) -> bool:
    """Validation (every source other than the training one) is dashed."""
    lowered = name.lower()
    return not lowered.startswith('train') and lowered not in ('', 'fit')


@dataclasses.dataclass(frozen=True)
class _Frame:
    """Where data coordinates land in the chart."""

    x0: float
    x1: float
    y0: float
    y1: float
    x_low: float
    x_high: float
    y_low: float
    y_high: float
    log_scale: bool

    def to_x(self, value: float) -> float:
        span = self.x_high - self.x_low
        return self.x0 + (value - self.x_low) * (self.x1 - self.x0) / span

    def to_y(self, value: float) -> float:
        if self.log_scale:
            value = math.log10(value)
        span = (self.y_high - self.y_low) or 1.0
        return self.y1 - (value - self.y_low) * (self.y1 - self.y0) / span


def _frame(
    xs: Sequence[float], ys: Sequence[float], width: int, height: int
) -> tuple[_Frame, list[float]]:
    """The frame of the data and the y ticks."""
    log_scale = _wants_log(ys)
    if log_scale:
        y_low, y_high = _bounds([math.log10(y) for y in ys])
        y_ticks = _log_ticks(y_low, y_high)
    else:
        y_low, y_high = _bounds(ys)
        y_ticks = [
            t for t in nice_ticks(y_low, y_high) if y_low <= t <= y_high
        ]
    x_low, x_high = min(xs), max(xs)
    if x_low == x_high:
        x_low, x_high = x_low - 1, x_high + 1
    frame = _Frame(
        _LEFT,
        width - _RIGHT,
        _TOP,
        height - _BOTTOM,
        x_low,
        x_high,
        y_low,
        y_high,
        log_scale,
    )
    return frame, y_ticks


def _axes(
    frame: _Frame, y_ticks: Sequence[float], ink: str, x_label: str
) -> list[str]:
    """Grid lines with y tick labels, epoch ticks, the x axis, its name."""
    x0, x1, y1 = frame.x0, frame.x1, frame.y1
    parts = []
    for tick in y_ticks:
        y = frame.to_y(tick)
        parts.append(
            f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" '
            f'stroke="{ink}" stroke-opacity="0.15"/>'
            f'<text x="{x0 - 5}" y="{y + 3.5:.1f}" text-anchor="end" '
            f'fill="{ink}" opacity="0.8">{html.escape(format_number(tick))}'
            '</text>'
        )
    for tick in _epoch_ticks(frame.x_low, frame.x_high):
        x = frame.to_x(tick)
        label = format_number(int(tick) if tick.is_integer() else tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{y1}" x2="{x:.1f}" y2="{y1 + 4}" '
            f'stroke="{ink}" stroke-opacity="0.5"/>'
            f'<text x="{x:.1f}" y="{y1 + 15}" text-anchor="middle" '
            f'fill="{ink}" opacity="0.8">{html.escape(label)}</text>'
        )
    parts.append(
        f'<line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}" stroke="{ink}" '
        'stroke-opacity="0.5"/>'
    )
    axis_note = f'{x_label} · log scale' if frame.log_scale else x_label
    parts.append(
        f'<text x="{x1}" y="14" text-anchor="end" fill="{ink}" '
        f'opacity="0.7">{html.escape(axis_note)}</text>'
    )
    return parts


def _series_marks(
    frame: _Frame,
    points: Sequence[tuple[float, float]],
    color: str,
    dash: bool,
    best: tuple[float, float] | None,
) -> list[str]:
    """One series: its line (or dot) and the ring on its best point."""
    parts = []
    # one affine map per axis, applied inline: this loop draws every point
    x_scale = (frame.x1 - frame.x0) / (frame.x_high - frame.x_low)
    x_shift = frame.x0 - frame.x_low * x_scale
    y_scale = (frame.y1 - frame.y0) / ((frame.y_high - frame.y_low) or 1.0)
    y_shift = frame.y1 + frame.y_low * y_scale
    log10 = math.log10
    if frame.log_scale:
        coords = [
            (x * x_scale + x_shift, y_shift - log10(y) * y_scale)
            for x, y in points
        ]
    else:
        coords = [
            (x * x_scale + x_shift, y_shift - y * y_scale) for x, y in points
        ]
    if len(coords) == 1:
        ((cx, cy),) = coords
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{color}"/>'
        )
    elif coords:
        joined = ' '.join([f'{cx:.1f},{cy:.1f}' for cx, cy in coords])
        pattern = ' stroke-dasharray="5 3"' if dash else ''
        parts.append(
            f'<polyline points="{joined}" fill="none" stroke="{color}" '
            f'stroke-width="1.8" stroke-linejoin="round"{pattern}/>'
        )
    if best is not None and all(map(math.isfinite, best)):
        bx, by = frame.to_x(best[0]), frame.to_y(best[1])
        parts.append(
            f'<circle cx="{bx:.1f}" cy="{by:.1f}" r="4.5" fill="none" '
            f'stroke="{color}" stroke-width="2"/>'
        )
    return parts


def _legend_row(
    row: float,
    name: str,
    color: str,
    dash: bool,
    best: tuple[float, float] | None,
    ink: str,
    x_label: str,
) -> str:
    sample = ' stroke-dasharray="5 3"' if dash else ''
    note = ''
    if best is not None:
        note = (
            f' · best {format_number(best[1])} at '
            f'{x_label} {format_number(best[0])}'
        )
    return (
        f'<line x1="{_LEFT}" y1="{row + 5}" x2="{_LEFT + 22}" y2="{row + 5}" '
        f'stroke="{color}" stroke-width="2"{sample}/>'
        f'<text x="{_LEFT + 28}" y="{row + 9}" fill="{ink}">'
        f'{html.escape(name + note)}</text>'
    )


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    best: Mapping[str, tuple[float, float]] | None = None,
    dashed: Mapping[str, bool] | None = None,
    width: int = 380,
    height: int = 210,
    x_label: str = 'epoch',
    ink: str = 'currentColor',
) -> str:
    """An SVG line chart: one line per series, legend, grid and ticks.

    Args:
        title: the chart's title.
        series: points (x, y) of each named series; non-finite points are
            skipped, a series with one point is drawn as a dot.
        best: per series name, the (x, y) point to ring as the best one.
        dashed: per series name, whether its line is dashed (default: every
            series whose name does not start with 'train').
        width: the chart's natural width in pixels; it scales down with its
            container (the SVG has a viewBox and a relative width).
        height: the plotting area's height plus margins, in pixels.
        x_label: the horizontal axis' name.
        ink: the colour of text, axes and grid lines.

    Returns:
        The ``<svg>`` element, as a string.
    """
    clean = {
        name: [
            (x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)
        ]
        for name, points in series.items()
    }
    best = best or {}
    styles = dashed or {}
    legend_height = _LEGEND_ROW * len(clean) + (4 if clean else 0)
    total_height = height + legend_height
    esc_title = html.escape(title)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{total_height}" viewBox="0 0 {width} {total_height}" '
        'class="drytorch-chart" role="img" '
        f'style="font: 11px sans-serif; width: 100%; max-width: {width}px; '
        'height: auto; '
        f'color: {ink};">',
        f'<title>{esc_title}</title>',
        f'<text x="{_LEFT}" y="14" font-weight="bold" fill="{ink}">'
        f'{esc_title}</text>',
    ]
    xs = [x for points in clean.values() for x, _ in points]
    ys = [y for points in clean.values() for _, y in points]
    if not xs:
        parts.append(
            f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" '
            f'text-anchor="middle" fill="{ink}" opacity="0.7">'
            'no finite values yet</text></svg>'
        )
        return ''.join(parts)
    frame, y_ticks = _frame(xs, ys, width, height)
    parts.extend(_axes(frame, y_ticks, ink, x_label))
    for index, (name, points) in enumerate(clean.items()):
        color = COLORS[index % len(COLORS)]
        dash = styles.get(name, _is_dashed(name))
        point = best.get(name)
        parts.extend(_series_marks(frame, points, color, dash, point))
        row = height + index * _LEGEND_ROW + 2
        parts.append(_legend_row(row, name, color, dash, point, ink, x_label))
    parts.append('</svg>')
    return ''.join(parts)


def data_uri(svg: str) -> str:
    """The SVG as a ``data:`` URI, for an ``<img>`` element's ``src``.

    Percent-encoded rather than base64: SVG is text, and this is about a
    quarter smaller in a saved notebook.
    """
    # Escaped text holds no quote, so every double quote delimits an
    # attribute and may become a single one, which needs no escaping.
    encoded = urllib.parse.quote(svg.replace('"', "'"), safe=" =:/,.;-'()")
    return DATA_URI_PREFIX + encoded


def svg_of_data_uri(uri: str) -> str:
    """The SVG text of a chart's ``data:`` URI (the inverse of data_uri).

    Raises:
        ValueError: if the URI is not one that data_uri makes.
    """
    if not uri.startswith(DATA_URI_PREFIX):
        msg = f'Expected a URI starting {DATA_URI_PREFIX!r}, got {uri[:40]!r}.'
        raise ValueError(msg)
    return urllib.parse.unquote(uri[len(DATA_URI_PREFIX) :])
