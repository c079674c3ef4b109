"""Line charts as self-contained inline SVG.

A chart is a plain string: it goes into an HTML widget while the run is
live and into the static snapshot afterwards, and needs no script, font or
file. Every text in it (title, legend, tick labels) is escaped.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence

__all__ = ['COLORS', 'data_uri', 'line_chart']

COLORS = (
    '#1f77b4',
    '#ff7f0e',
    '#2ca02c',
    '#d62728',
    '#9467bd',
    '#8c564b',
    '#e377c2',
    '#7f7f7f',
)
"""Series colours, in order of appearance."""

_LEFT = 56
_RIGHT = 10
_TOP = 24
_BOTTOM = 36
_LEGEND_ROW = 14


def _fmt(value: float) -> str:
    return format(value, '.4g')


def _bounds(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    return low, high


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    width: int = 360,
    height: int = 200,
    x_label: str = 'epoch',
) -> str:
    """An SVG line chart: one polyline per series, with a legend.

    Args:
        title: the chart's title.
        series: points (x, y) of each named series; non-finite points are
            skipped, a series with one point is drawn as a dot.
        width: the chart's width in pixels (the legend adds rows below).
        height: the plotting area's height plus margins, in pixels.
        x_label: the horizontal axis' name.

    Returns:
        The ``<svg>`` element, as a string.
    """
    clean = {
        name: [
            (x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)
        ]
        for name, points in series.items()
    }
    legend_height = _LEGEND_ROW * len(clean) + (6 if clean else 0)
    total_height = height + legend_height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{total_height}" viewBox="0 0 {width} {total_height}" '
        'class="drytorch-chart" role="img" '
        'style="font: 11px sans-serif; background: #fff; margin: 2px;">',
        f'<title>{html.escape(title)}</title>',
        f'<text x="{width / 2:.1f}" y="15" text-anchor="middle" '
        f'font-weight="bold">{html.escape(title)}</text>',
    ]
    x0, x1 = _LEFT, width - _RIGHT
    y0, y1 = _TOP, height - _BOTTOM
    parts.append(
        f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" '
        'fill="none" stroke="#bbb"/>'
    )
    xs = [x for points in clean.values() for x, _ in points]
    ys = [y for points in clean.values() for _, y in points]
    if xs:
        x_low, x_high = _bounds(xs)
        y_low, y_high = _bounds(ys)
        x_scale = (x1 - x0) / (x_high - x_low)
        y_scale = (y1 - y0) / (y_high - y_low)
        for label, y in ((y_high, y0), (y_low, y1)):
            parts.append(
                f'<text x="{x0 - 4}" y="{y + 4}" text-anchor="end">'
                f'{html.escape(_fmt(label))}</text>'
            )
        for label, x, anchor in ((x_low, x0, 'start'), (x_high, x1, 'end')):
            parts.append(
                f'<text x="{x}" y="{y1 + 14}" text-anchor="{anchor}">'
                f'{html.escape(_fmt(label))}</text>'
            )
        for index, points in enumerate(clean.values()):
            color = COLORS[index % len(COLORS)]
            coords = [
                (x0 + (x - x_low) * x_scale, y1 - (y - y_low) * y_scale)
                for x, y in points
            ]
            if len(coords) == 1:
                ((cx, cy),) = coords
                parts.append(
                    f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" '
                    f'fill="{color}"/>'
                )
            elif coords:
                joined = ' '.join(f'{cx:.1f},{cy:.1f}' for cx, cy in coords)
                parts.append(
                    f'<polyline points="{joined}" fill="none" '
                    f'stroke="{color}" stroke-width="1.5"/>'
                )
    else:
        parts.append(
            f'<text x="{(x0 + x1) / 2:.1f}" y="{(y0 + y1) / 2:.1f}" '
            'text-anchor="middle" fill="#888">no finite values yet</text>'
        )
    parts.append(
        f'<text x="{(x0 + x1) / 2:.1f}" y="{y1 + 28}" text-anchor="middle" '
        f'fill="#555">{html.escape(x_label)}</text>'
    )
    for index, name in enumerate(clean):
        color = COLORS[index % len(COLORS)]
        row = height + index * _LEGEND_ROW + 4
        parts.append(
            f'<rect x="{x0}" y="{row}" width="10" height="10" '
            f'fill="{color}"/>'
            f'<text x="{x0 + 14}" y="{row + 9}">{html.escape(name)}</text>'
        )
    parts.append('</svg>')
    return ''.join(parts)


def data_uri(svg: str) -> str:
    """The SVG as a ``data:`` URI, for an ``<img>`` element's ``src``."""
    encoded = base64.b64encode(svg.encode('utf-8')).decode('ascii')
    return f'data:image/svg+xml;base64,{encoded}'
