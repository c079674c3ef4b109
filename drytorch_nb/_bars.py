"""Progress bars as HTML: counts, rate and time left, no fixed width.

The panel draws its bars as HTML rather than progress widgets: one HTML
value holds both bars and their numbers, so one message updates them, and
the bars shrink with the notebook instead of overflowing it. The text of a
bar reads like a terminal progress bar::

    Epoch    9/30  00:12<00:28
    train   24/37  4.44it/s  00:05<00:03

The epoch bar counts the epochs of the current training and shows the time
left for the whole training; the batch bar counts the batches of the
current pass (training, validation or test) with its rate.
"""

from __future__ import annotations

import html
import math

from drytorch.utils.formatting import (
    format_count,
    format_duration,
    format_metrics,
    format_rate,
)
from drytorch_nb._state import PanelState, PassProgress

__all__ = [
    'BAR_COLOR',
    'bar_html',
    'bars_html',
    'epoch_text',
    'pass_text',
]

BAR_COLOR = '#3b82f6'
"""The filled part of a bar (reads on light and dark backgrounds)."""

_ROW = (
    'display: flex; flex-wrap: wrap; align-items: center; '
    'column-gap: 8px; row-gap: 2px; margin: 2px 0; min-width: 0;'
)
_LABEL = (
    'flex: 0 0 7em; overflow: hidden; text-overflow: ellipsis; '
    'white-space: nowrap;'
)
_TRACK = (
    'flex: 1 1 160px; min-width: 80px; max-width: 440px; height: 10px; '
    'border-radius: 5px; overflow: hidden; '
    'background: var(--jp-layout-color3, rgba(128, 128, 128, 0.25));'
)
_NUMBERS = (
    'flex: 0 1 auto; min-width: 0; font-family: var(--jp-code-font-family, '
    'monospace); font-variant-numeric: tabular-nums; white-space: pre-wrap;'
)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def bar_html(label: str, done: int, total: int, numbers: str) -> str:
    """One bar: its label, the filled track and its numbers.

    Args:
        label: what is counted (escaped here).
        done: units done.
        total: units in all (0 when unknown: the track stays empty).
        numbers: the text after the track (escaped here).
    """
    fraction = min(max(done / total, 0.0), 1.0) if total > 0 else 0.0
    return (
        f'<div class="drytorch-bar" style="{_ROW}">'
        f'<span style="{_LABEL}" title="{_esc(label)}">{_esc(label)}</span>'
        f'<span class="drytorch-track" role="progressbar" '
        f'aria-valuenow="{done}" aria-valuemax="{total}" style="{_TRACK}">'
        f'<span style="display: block; height: 100%; width: '
        f'{fraction * 100:.1f}%; background: {BAR_COLOR};"></span></span>'
        f'<span class="drytorch-numbers" style="{_NUMBERS}">'
        f'{_esc(numbers)}</span></div>'
    )


def epoch_text(state: PanelState, now: float) -> str:
    """``9/30  00:12<00:28``: epochs of this training, spent and left."""
    done = state.epochs_done - state.start_epoch
    total = state.end_epoch - state.start_epoch
    text = format_count(done, total)
    started = state.training_started
    if started is not None:
        end = now if state.stopped is None else state.stopped
        spent = format_duration(max(end - started, 0.0))
        left = state.epochs_left_time(now)
        if math.isfinite(left) and done < total and state.stopped is None:
            text += f'  {spent}<{format_duration(left)}'
        else:
            text += f'  {spent}'
    return text


def pass_text(progress: PassProgress) -> str:
    """``24/37  4.44it/s  00:05<00:03``: the batches of the current pass."""
    text = format_count(progress.done, progress.n_iter)
    rate = progress.rate()
    if rate:
        spent = format_duration(progress.updated - progress.started)
        text += f'  {format_rate(rate)}  {spent}'
        remaining = progress.remaining()
        if progress.done < progress.n_iter and math.isfinite(remaining):
            text += f'<{format_duration(remaining)}'
    return text


def bars_html(
    state: PanelState,
    now: float,
    metrics: bool = False,
    epochs: bool | None = None,
) -> str:
    """The epoch bar (during a training) and the batch bar of the pass.

    Args:
        state: the run's state.
        now: the clock reading.
        metrics: also show the running metrics of the pass, on a line of
            their own.
        epochs: whether to show the epoch bar; None shows it during a
            training and after it, until a pass of something else (a test
            has no epochs).
    """
    rows = []
    progress = state.progress
    if epochs is None:
        epochs = state.training_active or progress.in_training
    if epochs and state.end_epoch > state.start_epoch:
        rows.append(
            bar_html(
                'Epoch',
                state.epochs_done - state.start_epoch,
                state.end_epoch - state.start_epoch,
                epoch_text(state, now),
            )
        )
    if progress.source:
        rows.append(
            bar_html(
                progress.source,
                progress.done,
                progress.n_iter,
                pass_text(progress),
            )
        )
        if metrics and progress.metrics:
            rows.append(
                f'<div class="drytorch-running" style="{_NUMBERS}">'
                f'{_esc(format_metrics(progress.metrics))}</div>'
            )
    if not rows:
        return '<div class="drytorch-bars"></div>'
    return f'<div class="drytorch-bars">{"".join(rows)}</div>'
