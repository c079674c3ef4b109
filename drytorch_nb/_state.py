"""What the panel shows about a run, independent of how it is drawn.

The live widgets, the static snapshot and the text fallback all read the
same :class:`PanelState`. Everything in it is bounded: metric curves are
decimated, the event log keeps its last lines, long texts are cut.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from drytorch_nb._card_data import CardBook

__all__ = [
    'ActorInfo',
    'MetricSummary',
    'PanelState',
    'PassProgress',
    'Series',
    'clip_text',
    'lower_is_better',
]

_LOWER_WORDS = (
    'loss',
    'err',
    'entropy',
    'mse',
    'mae',
    'nll',
    'perplex',
    'distance',
    'divergence',
    'cost',
    'regret',
)
# short names that would match too much as substrings: whole words only
_LOWER_TOKENS = frozenset({'ce', 'bce', 'kl', 'kld', 'l1', 'l2'})


def lower_is_better(name: str) -> bool:
    """Whether smaller values of the named metric are better.

    Losses and errors go down: names that contain 'loss', 'err',
    'entropy', 'mse', 'perplex', ... or a word such as 'CE' or 'KL'. Every
    other metric (accuracy, F1, ...) goes up. The panel and the comparison
    of runs both follow this one rule.
    """
    lowered = name.lower()
    if any(word in lowered for word in _LOWER_WORDS):
        return True
    tokens = re.split(r'[^0-9a-z]+', lowered)
    return any(token in _LOWER_TOKENS for token in tokens)


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
class MetricSummary:
    """The final and the best value of one metric of one source.

    Kept apart from the drawn curves, which are thinned out: the best value
    is exact however long the training.

    Attributes:
        lower_is_better: the metric's direction.
        final: the latest value.
        final_epoch: the epoch of the latest value.
        best: the best value so far (NaN until a finite value arrives).
        best_epoch: the epoch of the best value (-1 until then).
        count: how many values arrived.
    """

    lower_is_better: bool
    final: float = math.nan
    final_epoch: int = -1
    best: float = math.nan
    best_epoch: int = -1
    count: int = 0

    def add(self, epoch: int, value: float) -> None:
        """Record the value of an epoch."""
        self.final = value
        self.final_epoch = epoch
        self.count += 1
        if not math.isfinite(value):
            return
        best = self.best
        if (
            math.isnan(best)
            or (self.lower_is_better and value < best)
            or (not self.lower_is_better and value > best)
        ):
            self.best = value
            self.best_epoch = epoch


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
        started: clock reading when the pass started.
        updated: clock reading of the latest progress report.
        in_training: whether the pass is part of a training.
    """

    source: str = ''
    n_iter: int = 0
    done: int = 0
    dataset_size: int = 0
    metrics: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    started: float = 0.0
    updated: float = 0.0
    in_training: bool = False

    def rate(self) -> float:
        """Batches per second so far (0 before the first report)."""
        spent = self.updated - self.started
        return self.done / spent if self.done and spent > 0 else 0.0

    def remaining(self) -> float:
        """Estimated seconds to the end of the pass (NaN if unknown)."""
        rate = self.rate()
        if not rate:
            return math.nan
        return max(self.n_iter - self.done, 0) / rate


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
        summaries: final and best value per (model, source, metric).
        training_started: clock reading when the current training started.
        training_source: the trainer's name (its curves are solid).
        training_active: whether a training is in progress.
        terminated: why the training stopped early, if it did.
        cards: what the model and actor cards are drawn from.
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
    summaries: dict[tuple[str, str, str], MetricSummary] = dataclasses.field(
        default_factory=dict
    )
    training_started: float | None = None
    training_source: str = ''
    training_active: bool = False
    terminated: str = ''
    cards: CardBook = dataclasses.field(default_factory=CardBook)

    def epochs_left_time(self, now: float) -> float:
        """Estimated seconds to the end of the training (NaN if unknown).

        From the mean time of the epochs done in this training, plus what
        is left of the current pass when it belongs to the trainer.
        """
        started = self.training_started
        done = self.epochs_done - self.start_epoch
        left = self.end_epoch - self.epochs_done
        if started is None or left <= 0:
            return 0.0 if left <= 0 else math.nan
        progress = self.progress
        fraction = 0.0
        if progress.source == self.training_source and progress.n_iter:
            fraction = min(progress.done / progress.n_iter, 1.0)
        spent = now - started
        if done + fraction <= 0 or spent <= 0:
            return math.nan
        per_epoch = spent / (done + fraction)
        return per_epoch * (left - fraction)

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
        summaries = self.summaries
        for name, value in metrics.items():
            try:
                y = float(value)
            except (TypeError, ValueError):
                continue  # not a number: nothing to draw
            metric = str(name)
            chart = self.curves.setdefault((model_name, metric), {})
            series = chart.get(source)
            if series is None:
                series = chart[source] = Series(self.max_points)
            series.append(x, y)
            key = (model_name, source, metric)
            summary = summaries.get(key)
            if summary is None:
                summary = summaries[key] = MetricSummary(
                    lower_is_better(metric)
                )
            summary.add(epoch, y)

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
