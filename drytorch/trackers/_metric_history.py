"""Metric histories: their types, where they are read from, in memory.

A :class:`MetricLoader` reads the history of a model back (from files or a
database); :class:`MemoryMetrics` keeps the history of the run in memory,
aligned on the epochs. Public path: :mod:`drytorch.trackers.base_classes`.
"""

from __future__ import annotations

import abc
import math
from typing import TypeAlias

from drytorch.core import events
from drytorch.core.track import Tracker, on

__all__ = [
    'HistoryMetrics',
    'MemoryMetrics',
    'MetricLoader',
    'SourcedMetrics',
]

HistoryMetrics: TypeAlias = tuple[list[int], dict[str, list[float]]]
"""Epochs and, for each metric, its value at each of those epochs."""

SourcedMetrics: TypeAlias = dict[str, HistoryMetrics]
"""Metric histories by source (the actor that computed them)."""


class MetricLoader(abc.ABC):
    """Something that can read the metric history of a model back."""

    def load_metrics(
        self, model_name: str, max_epoch: int = -1
    ) -> SourcedMetrics:
        """Load the metric history of a model, by source.

        Args:
            model_name: the model's name.
            max_epoch: the last epoch to load; -1 for all of them.

        Returns:
            The history of each source; empty when ``max_epoch`` is 0.

        Raises:
            ValueError: if ``max_epoch`` is below -1.
        """
        if max_epoch < -1:
            msg = f'Expected max_epoch >= -1, got {max_epoch}.'
            raise ValueError(msg)
        if max_epoch == 0:
            return {}
        return self._load_metrics(model_name, max_epoch)

    @abc.abstractmethod
    def _load_metrics(self, model_name: str, max_epoch: int) -> SourcedMetrics:
        """Load the history (``max_epoch`` is -1 or positive)."""


class MemoryMetrics(Tracker):
    """Keep the metric history of the run in memory.

    Values are aligned with the epochs: a metric missing at an epoch gets
    NaN. Metrics logged again for an epoch already seen replace the history
    from that epoch on (as after loading an earlier checkpoint).

    Attributes:
        metric_loader: where to read the history from after a model is
            loaded; without one the history in memory is kept.
        model_dict: ``model_dict[model][source] = (epochs, {metric:
            values})``.
    """

    def __init__(self, metric_loader: MetricLoader | None = None) -> None:
        """Create the tracker.

        Args:
            metric_loader: reloads the history when a model is loaded.
        """
        super().__init__()
        self.metric_loader = metric_loader
        self.model_dict: dict[str, SourcedMetrics] = {}

    @on(events.StartRunEvent)
    def _memory_on_start(self, event: events.StartRunEvent) -> None:
        self.model_dict = {}

    @on(events.MetricEvent)
    def _memory_on_metric(self, event: events.MetricEvent) -> None:
        sources = self.model_dict.setdefault(event.model_name, {})
        epochs, logs = sources.setdefault(event.source_name, ([], {}))
        epoch = event.epoch
        if epochs and epoch <= epochs[-1]:
            keep = next(i for i, seen in enumerate(epochs) if seen >= epoch)
            del epochs[keep:]
            for values in logs.values():
                del values[keep:]
        n_previous = len(epochs)
        epochs.append(epoch)
        metrics = event.metrics
        for name, value in metrics.items():
            if name not in logs:
                logs[name] = [math.nan] * n_previous
            logs[name].append(value)
        for values in logs.values():
            if len(values) == n_previous:  # not logged at this epoch
                values.append(math.nan)

    @on(events.LoadModelEvent)
    def _memory_on_load(self, event: events.LoadModelEvent) -> None:
        if self.metric_loader is None:
            return
        self.model_dict[event.model_name] = self.metric_loader.load_metrics(
            event.model_name, event.epoch
        )
