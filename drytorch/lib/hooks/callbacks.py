"""Callbacks that terminate training: early stopping and pruning."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from drytorch.lib._positional import reference_positionals
from drytorch.lib.hooks.monitoring import (
    MetricMonitor,
    MonitoringHook,
)
from drytorch.lib.hooks.registry import _check_int

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from drytorch.core.protocols import MonitorProtocol, TrainerProtocol
    from drytorch.lib.hooks.monitoring import MonitorOptions

__all__ = [
    'EarlyStoppingCallback',
    'PruneCallback',
]

_Out = TypeVar('_Out')
_Tgt = TypeVar('_Tgt')


class EarlyStoppingCallback(MonitoringHook[_Out, _Tgt], Generic[_Out, _Tgt]):
    """Terminate training when the monitored metric stops improving.

    The value is recorded at every call. From ``start_from_epoch`` on,
    training is terminated at the first call where the value neither
    improves on the best nor has patience left: with a constant metric,
    ``patience=p`` and ``start_from_epoch=2``, that is epoch ``p + 2``
    (``patience`` counts the non-improving values tolerated).

    Attributes:
        metric_monitor: the metric monitor.
        start_from_epoch: the first epoch where training may stop.
    """

    @reference_positionals(
        'min_delta', 'patience', 'best_is', 'filter_fn', 'start_from_epoch'
    )
    def __init__(
        self,
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
        *,
        patience: int = 10,
        start_from_epoch: int = 2,
        **options: Unpack[MonitorOptions],
    ) -> None:
        """Initialize.

        Args:
            metric: as in :class:`MetricMonitor`.
            monitor: as in :class:`MetricMonitor`.
            patience: as in :class:`MetricMonitor` (default here: 10).
            start_from_epoch: the first epoch where training may stop.
            **options: see :class:`MonitorOptions`.
        """
        self.metric_monitor = MetricMonitor(
            metric, monitor, patience=patience, **options
        )
        self.start_from_epoch = _check_int(
            'start_from_epoch', start_from_epoch, 0
        )

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Record the value and stop training if it stopped improving.

        Args:
            trainer: the trainer running the hook.
        """
        monitor = self.metric_monitor
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
            f'{type(self).__name__}({self.metric_monitor!r}, '
            f'start_from_epoch={self.start_from_epoch})'
        )


class PruneCallback(MonitoringHook[_Out, _Tgt], Generic[_Out, _Tgt]):
    """Terminate training at chosen epochs unless a threshold is beaten.

    The value is recorded at every call. At each epoch in ``thresholds``
    training is terminated unless the monitored (filtered) value is better
    than the epoch's threshold; a threshold of None always terminates.

    Attributes:
        metric_monitor: the metric monitor.
        thresholds: the threshold of each pruning epoch.
        trial_values: the monitored value at each pruning epoch reached.
    """

    @reference_positionals('min_delta', 'best_is', 'filter_fn')
    def __init__(
        self,
        thresholds: Mapping[int, float | None],
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
        **options: Unpack[MonitorOptions],
    ) -> None:
        """Initialize.

        Args:
            thresholds: maps epochs to the value to beat (None: stop).
            metric: as in :class:`MetricMonitor`.
            monitor: as in :class:`MetricMonitor`.
            **options: see :class:`MonitorOptions` (``min_delta`` is the
                margin by which a threshold must be beaten).

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
        # patience=0: every value is compared with the threshold; a
        # patience among the options is refused (TypeError) as before
        self.metric_monitor = MetricMonitor(
            metric, monitor, patience=0, **options
        )
        self.trial_values: dict[int, float] = {}

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Record the value and prune at the threshold epochs.

        Args:
            trainer: the trainer running the hook.
        """
        monitor = self.metric_monitor
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
        return (
            f'{type(self).__name__}({self.thresholds!r}, '
            f'{self.metric_monitor!r})'
        )
