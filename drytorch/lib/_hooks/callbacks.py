"""Callbacks that terminate training: early stopping and pruning."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from drytorch.lib._hooks.monitoring import (
    BestIs,
    FilterFn,
    MetricMonitor,
    get_last,
)
from drytorch.lib._hooks.registry import TrainerHook, _check_int

if TYPE_CHECKING:
    from drytorch.core.protocols import MonitorProtocol, TrainerProtocol

__all__ = [
    'EarlyStoppingCallback',
    'PruneCallback',
]

_Out = TypeVar('_Out')
_Tgt = TypeVar('_Tgt')


class EarlyStoppingCallback(TrainerHook[Any, _Tgt, _Out], Generic[_Out, _Tgt]):
    """Terminate training when the monitored metric stops improving.

    The value is recorded at every call. From ``start_from_epoch`` on,
    training is terminated at the first call where the value neither
    improves on the best nor has patience left: with a constant metric,
    ``patience=p`` and ``start_from_epoch=2``, that is epoch ``p + 2``
    (``patience`` counts the non-improving values tolerated).

    Attributes:
        monitor: the metric monitor.
        start_from_epoch: the first epoch where training may stop.
    """

    def __init__(
        self,
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
        min_delta: float = 1e-8,
        patience: int = 10,
        best_is: BestIs = 'auto',
        filter_fn: FilterFn = get_last,
        start_from_epoch: int = 2,
    ) -> None:
        """Initialize.

        Args:
            metric: the metric's name or object, or None for the first
                computed metric (normally the loss).
            monitor: where to read the metric; None for the trainer's
                validation, or the trainer when it has none.
            min_delta: the margin an improvement must exceed.
            patience: the number of non-improving values tolerated.
            best_is: 'higher', 'lower' or 'auto'.
            filter_fn: function from the history to the monitored value.
            start_from_epoch: the first epoch where training may stop.
        """
        self.monitor: MetricMonitor[_Out, _Tgt] = MetricMonitor(
            metric, monitor, min_delta, patience, best_is, filter_fn
        )
        self.start_from_epoch = _check_int(
            'start_from_epoch', start_from_epoch, 0
        )

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Record the value and stop training if it stopped improving.

        Args:
            trainer: the trainer running the hook.
        """
        monitor = self.monitor
        monitor.record_metric_value(trainer)
        if trainer.model.epoch < self.start_from_epoch:
            return
        if monitor.is_improving() or monitor.is_patient():
            return
        if not trainer.terminated:
            best = monitor.best_value
            trainer.terminate_training(
                f'Training stopped with best result={best} '
                f'{monitor.metric_name}'
            )

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}({self.monitor!r}, '
            f'start_from_epoch={self.start_from_epoch})'
        )


class PruneCallback(TrainerHook[Any, _Tgt, _Out], Generic[_Out, _Tgt]):
    """Terminate training at chosen epochs unless a threshold is beaten.

    The value is recorded at every call. At each epoch in ``thresholds``
    training is terminated unless the monitored (filtered) value is better
    than the epoch's threshold; a threshold of None always terminates.

    Attributes:
        monitor: the metric monitor.
        thresholds: the threshold of each pruning epoch.
        trial_values: the monitored value at each pruning epoch reached.
    """

    def __init__(
        self,
        thresholds: Mapping[int, float | None],
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
        min_delta: float = 1e-8,
        best_is: BestIs = 'auto',
        filter_fn: FilterFn = get_last,
    ) -> None:
        """Initialize.

        Args:
            thresholds: maps epochs to the value to beat (None: stop).
            metric: the metric's name or object, or None for the first
                computed metric (normally the loss).
            monitor: where to read the metric; None for the trainer's
                validation, or the trainer when it has none.
            min_delta: the margin by which a threshold must be beaten.
            best_is: 'higher', 'lower' or 'auto'.
            filter_fn: function from the history to the monitored value.

        Raises:
            TypeError: if thresholds is not a mapping with integer keys.
        """
        if not isinstance(thresholds, Mapping):
            msg = (
                'Expected thresholds to be a mapping from epochs to values, '
                f'got {thresholds!r}.'
            )
            raise TypeError(msg)
        for epoch in thresholds:
            _check_int('every threshold epoch', epoch, 0)
        self.thresholds: dict[int, float | None] = dict(thresholds)
        self.monitor: MetricMonitor[_Out, _Tgt] = MetricMonitor(
            metric, monitor, min_delta, 0, best_is, filter_fn
        )
        self.trial_values: dict[int, float] = {}

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Record the value and prune at the threshold epochs.

        Args:
            trainer: the trainer running the hook.
        """
        monitor = self.monitor
        monitor.record_metric_value(trainer)
        epoch = trainer.model.epoch
        if epoch not in self.thresholds:
            return
        threshold = self.thresholds[epoch]
        value = monitor.filtered_value
        self.trial_values[epoch] = value
        if threshold is not None and monitor.is_better(value, threshold):
            return
        if not trainer.terminated:
            trainer.terminate_training(
                f'Training pruned at epoch {epoch}: {monitor.metric_name}='
                f'{value} is not better than the threshold {threshold}.'
            )

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.thresholds!r}, {self.monitor!r})'
