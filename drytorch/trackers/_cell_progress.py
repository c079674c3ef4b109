"""Progress bars drawn in a notebook cell as one display, updated in place.

A :class:`CellBar` publishes one display (plain text and a small HTML bar)
when it opens and then replaces that display's content, at most once per
``min_interval`` seconds, so a saved notebook holds one output per bar: no
stream of lines, no carriage returns, no widget state.

A bar that is not left on screen is blanked when it closes, and the next
bar opened in the same cell reuses its display: a training with transient
pass bars leaves a single empty output, not one per pass.

IPython is imported only when a bar opens (which only happens inside a
kernel).
"""

from __future__ import annotations

import html
import importlib
import time
from collections.abc import Callable
from typing import Any

from drytorch.utils import environment
from drytorch.utils.formatting import (
    format_count,
    format_duration,
    format_rate,
)

__all__ = ['MIN_INTERVAL_S', 'CellBar', 'meter_text']

MIN_INTERVAL_S = 0.1
"""Least time between two updates of a bar's display (tqdm's default)."""

_TEXT_BAR_WIDTH = 10
_STYLE_ROW = 'font-family:monospace;white-space:nowrap;overflow-x:auto'
_STYLE_DESC = 'display:inline-block;min-width:7em'
_STYLE_TRACK = (
    'display:inline-block;vertical-align:middle;width:12em;max-width:30%;'
    'height:.7em;margin:0 .5em;border:1px solid'
)
_STYLE_FILL = 'display:block;height:100%;background:currentColor'

_BLANK: dict[str, str] = {'text/plain': ''}

# Displays of closed transient bars, by the cell (execution count) they are
# in; a new bar in the same cell takes one instead of adding an output.
_free_displays: list[tuple[object, Any]] = []


def _cell_id() -> object:
    shell = environment.ipython_shell()
    return getattr(shell, 'execution_count', None)


def _take_free_display(cell: object) -> Any:
    while _free_displays:
        owner, handle = _free_displays.pop(0)
        if owner == cell:
            return handle
    return None


def _meter(n: int, total: int, elapsed: float, unit: str) -> tuple[int, str]:
    """The percentage and ``24/37 [00:02<00:04, 4.44batch/s]``."""
    percent = min(100, 100 * n // total) if total > 0 else 0
    rate = n / elapsed if elapsed > 0 else 0.0
    left = (total - n) / rate if rate > 0 and total >= n else float('inf')
    timing = (
        f'[{format_duration(elapsed)}<{format_duration(left)}, '
        f'{format_rate(rate, unit)}]'
    )
    return percent, f'{format_count(n, total)} {timing}'


def meter_text(
    n: int, total: int, elapsed: float, desc: str, postfix: str, unit: str
) -> str:
    """One line of progress: ``desc: 64%|######    | 24/37 [...] postfix``.

    Args:
        n: units done.
        total: units in all (0 if unknown).
        elapsed: seconds since the bar opened.
        desc: what progresses.
        postfix: the current metrics, or ''.
        unit: the name of a unit, for the rate.
    """
    percent, meter = _meter(n, total, elapsed, unit)
    filled = percent * _TEXT_BAR_WIDTH // 100
    bar = '#' * filled + ' ' * (_TEXT_BAR_WIDTH - filled)
    line = f'{desc}: {percent:3d}%|{bar}| {meter}'
    return f'{line} {postfix}' if postfix else line


def _meter_html(
    n: int, total: int, elapsed: float, desc: str, postfix: str, unit: str
) -> str:
    percent, meter = _meter(n, total, elapsed, unit)
    parts = [
        f'<div class="drytorch-progress" style="{_STYLE_ROW}">',
        f'<span style="{_STYLE_DESC}">{html.escape(desc.strip())}</span>',
        f'<span style="{_STYLE_TRACK}">',
        f'<span style="{_STYLE_FILL};width:{percent}%"></span></span>',
        f'{percent}% {html.escape(meter)}',
    ]
    if postfix:
        parts.append(f' {html.escape(postfix)}')
    parts.append('</div>')
    return ''.join(parts)


class CellBar:
    """One progress bar shown in the running cell, updated in place.

    Attributes:
        leave: whether the final state stays visible once closed.
        min_interval: the least seconds between two display updates.
    """

    def __init__(
        self,
        *,
        total: int,
        desc: str,
        unit: str,
        leave: bool,
        min_interval: float = MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Open the bar and show it at zero.

        Args:
            total: units in all.
            desc: what progresses.
            unit: the name of a unit, for the rate.
            leave: whether the final state stays visible once closed.
            min_interval: the least seconds between two display updates.
            clock: a monotonic clock in seconds.

        Raises:
            ImportError: if IPython cannot be imported.
        """
        display_module = importlib.import_module('IPython.display')
        self.leave = leave
        self.min_interval = min_interval
        self._total = total
        self._unit = unit
        self._clock = clock
        self._start = self._last_sent = clock()
        self._cell = _cell_id()
        bundle = self._bundle(0, desc, '')
        handle = _take_free_display(self._cell)
        if handle is None:
            handle = display_module.display(bundle, raw=True, display_id=True)
        else:
            handle.update(bundle, raw=True)
        self._handle = handle

    def _bundle(self, n: int, desc: str, postfix: str) -> dict[str, str]:
        elapsed = self._clock() - self._start
        args = (n, self._total, elapsed, desc, postfix, self._unit)
        return {
            'text/plain': meter_text(*args),
            'text/html': _meter_html(*args),
        }

    def show(
        self, n: int, desc: str, postfix: str, force: bool = False
    ) -> None:
        """Update the display, unless it was updated less than recently.

        Args:
            n: units done.
            desc: what progresses.
            postfix: the current metrics, or ''.
            force: update even if the last update is recent.
        """
        now = self._clock()
        if not force and now - self._last_sent < self.min_interval:
            return
        self._last_sent = now
        self._handle.update(self._bundle(n, desc, postfix), raw=True)

    def close(self, n: int, desc: str, postfix: str) -> None:
        """Show the final state, or blank the display if not left.

        Args:
            n: units done.
            desc: what progresses.
            postfix: the final metrics, or ''.
        """
        if self.leave:
            self._handle.update(self._bundle(n, desc, postfix), raw=True)
            return
        self._handle.update(_BLANK, raw=True)
        _free_displays.append((self._cell, self._handle))
