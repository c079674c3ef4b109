"""What the panel shows about a run, independent of how it is drawn.

The live widgets, the static snapshot and the text fallback all read the
same :class:`PanelState`. Everything in it is bounded: metric curves are
decimated, the event log keeps its last lines, long texts are cut.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    'ActorInfo',
    'PanelState',
    'PassProgress',
    'Series',
    'clip_text',
]

MAX_TEXT = 50_000
"""Longest text (e.g. a model repr) kept, in characters."""


def clip_text(text: str, limit: int = MAX_TEXT) -> str:
    """The text, cut to ``limit`` characters with a visible mark."""
    if len(text) <= limit:
        return text
    return text[:limit] + f'\n... ({len(text) - limit} characters cut)'


class Series:
    """A curve of (x, y) points with a bounded number of points.

    When it grows past ``max_points``, every other kept point is dropped
    and from then on only one point in two is kept (the stride doubles);
    the latest point is always shown. Appending is O(1) amortized.

    Attributes:
        max_points: the most points kept (besides the latest one).
    """

    __slots__ = ('_count', '_kept', '_last', '_stride', 'max_points')

    def __init__(self, max_points: int) -> None:
        """Args:
        max_points: the most points kept (at least 2).
        """  # noqa: D205
        if max_points < 2:
            msg = f'Expected max_points of at least 2, got {max_points}.'
            raise ValueError(msg)
        self.max_points = max_points
        self._kept: list[tuple[float, float]] = []
        self._last: tuple[float, float] | None = None
        self._stride = 1
        self._count = 0

    def __len__(self) -> int:
        return len(self.points())

    def append(self, x: float, y: float) -> None:
        """Add a point (non-finite values are kept but not drawn)."""
        point = (x, y)
        self._last = point
        if self._count % self._stride == 0:
            self._kept.append(point)
            if len(self._kept) > self.max_points:
                self._kept = self._kept[::2]
                self._stride *= 2
        self._count += 1

    def points(self) -> list[tuple[float, float]]:
        """The points to draw, in order, the latest one included."""
        last = self._last
        if last is None:
            return []
        kept = self._kept
        if kept and kept[-1] is last:
            return list(kept)
        return [*kept, last]

    def finite_points(self) -> list[tuple[float, float]]:
        """The points with finite coordinates."""
        return [
            (x, y)
            for x, y in self.points()
            if math.isfinite(x) and math.isfinite(y)
        ]


@dataclasses.dataclass
class ActorInfo:
    """An actor as registered in the run.

    Attributes:
        name: the actor's name.
        model_name: the model it acts on.
        metadata: its description.
    """

    name: str
    model_name: str
    metadata: Mapping[str, Any]


@dataclasses.dataclass
class PassProgress:
    """Progress of the current pass over a loader.

    Attributes:
        source: the actor's name.
        n_iter: batches of the pass.
        done: batches done so far.
        dataset_size: samples of the dataset.
        metrics: the latest running metric values.
    """

    source: str = ''
    n_iter: int = 0
    done: int = 0
    dataset_size: int = 0
    metrics: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class PanelState:
    """Everything the panel shows about one run.

    Attributes:
        exp_name: the experiment's name.
        run_id: the run's id.
        status: running, completed, failed, interrupted...
        resumed: whether the run resumes a recorded one.
        tags: the experiment's tags.
        config: the experiment's configuration.
        started: clock reading when the run started.
        stopped: clock reading when it stopped, None while running.
        models: architecture reprs by model name.
        actors: registered actors, by actor and model name.
        curves: per (model, metric) chart, the series of each source.
        epoch: the current (or last) training epoch.
        epochs_done: the last epoch that ended.
        start_epoch: the epoch before the first one of the training.
        end_epoch: the last epoch of the training.
        progress: the current pass.
        log: the latest notable events, one line each.
        max_points: the most points of a series.
    """

    exp_name: str = ''
    run_id: str = ''
    status: str = 'running'
    resumed: bool = False
    tags: list[str] = dataclasses.field(default_factory=list)
    config: Any = None
    started: float = 0.0
    stopped: float | None = None
    models: dict[str, str] = dataclasses.field(default_factory=dict)
    actors: dict[tuple[str, str], ActorInfo] = dataclasses.field(
        default_factory=dict
    )
    curves: dict[tuple[str, str], dict[str, Series]] = dataclasses.field(
        default_factory=dict
    )
    epoch: int = 0
    epochs_done: int = 0
    start_epoch: int = 0
    end_epoch: int = 0
    progress: PassProgress = dataclasses.field(default_factory=PassProgress)
    log: collections.deque[str] = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=200)
    )
    max_points: int = 200

    def elapsed(self, now: float) -> float:
        """Seconds since the run started (until it stopped)."""
        end = now if self.stopped is None else self.stopped
        return max(end - self.started, 0.0)

    def add_metrics(
        self,
        model_name: str,
        source: str,
        epoch: int,
        metrics: Mapping[str, Any],
    ) -> None:
        """Append one point per metric to the source's curves."""
        x = float(epoch)
        for name, value in metrics.items():
            try:
                y = float(value)
            except (TypeError, ValueError):
                continue  # not a number: nothing to draw
            chart = self.curves.setdefault((model_name, str(name)), {})
            series = chart.get(source)
            if series is None:
                series = chart[source] = Series(self.max_points)
            series.append(x, y)

    def model_names(self) -> set[str]:
        """Models that appear in the charts."""
        return {model for model, _ in self.curves}

    def iter_charts(self) -> Iterator[tuple[str, dict[str, Series]]]:
        """Chart titles with their series, in order of appearance.

        The model's name prefixes the metric's name when several models
        have curves.
        """
        several = len(self.model_names()) > 1
        for (model, metric), chart in self.curves.items():
            title = f'{model} · {metric}' if several else metric
            yield title, chart
