"""Callbacks that change the learning-rate scheduler on a plateau."""

from __future__ import annotations

import abc
import numbers
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from drytorch.lib import schedulers
from drytorch.lib._hooks.monitoring import (
    BestIs,
    FilterFn,
    MetricMonitor,
    get_last,
)
from drytorch.lib._hooks.registry import TrainerHook, _check_int

if TYPE_CHECKING:
    from drytorch.core.protocols import (
        MonitorProtocol,
        SchedulerProtocol,
        TrainerProtocol,
    )

__all__ = [
    'ChangeSchedulerOnPlateauCallback',
    'ReduceLROnPlateau',
    'RestartScheduleOnPlateau',
]

_Out = TypeVar('_Out')
_Tgt = TypeVar('_Tgt')


def _current_scheduler(trainer: TrainerProtocol) -> SchedulerProtocol:
    # starting from the scheduler in use lets successive changes compound
    current = getattr(trainer, 'current_scheduler', None)
    if current is None:
        return trainer.learning_schema.scheduler
    return current  # type: ignore[no-any-return]


class ChangeSchedulerOnPlateauCallback(
    TrainerHook[Any, _Tgt, _Out], Generic[_Out, _Tgt], abc.ABC
):
    """Change the learning-rate scheduler when the metric plateaus.

    The value is recorded at every call. When it neither improves nor has
    patience left, the trainer's scheduler is replaced by
    :meth:`get_scheduler` applied to the scheduler in use (so successive
    changes compound), the patience is restored and the next ``cooldown``
    calls make no change.

    Attributes:
        monitor: the metric monitor.
        cooldown: the calls without changes after a change.
    """

    def __init__(
        self,
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
        min_delta: float = 1e-8,
        patience: int = 0,
        best_is: BestIs = 'auto',
        filter_fn: FilterFn = get_last,
        cooldown: int = 0,
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
            cooldown: the calls without changes after a change.
        """
        self.monitor: MetricMonitor[_Out, _Tgt] = MetricMonitor(
            metric, monitor, min_delta, patience, best_is, filter_fn
        )
        self.cooldown = _check_int('cooldown', cooldown, 0)
        self._cooldown_left = 0

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Record the value and change the scheduler on a plateau.

        Args:
            trainer: the trainer running the hook.
        """
        monitor = self.monitor
        monitor.record_metric_value(trainer)
        # keeps the best value up to date during the cooldown as well
        improving = monitor.is_improving()
        if self._cooldown_left > 0:
            self._cooldown_left -= 1
            monitor.reset_patience()
            return
        if improving or monitor.is_patient():
            return
        scheduler = self.get_scheduler(
            trainer.model.epoch, _current_scheduler(trainer)
        )
        trainer.update_learning_rate(base_lr=None, scheduler=scheduler)
        monitor.reset_patience()
        self._cooldown_left = self.cooldown

    @abc.abstractmethod
    def get_scheduler(
        self, epoch: int, scheduler: SchedulerProtocol
    ) -> SchedulerProtocol:
        """The scheduler to use from now on.

        Args:
            epoch: the current epoch.
            scheduler: the scheduler in use.

        Returns:
            The new scheduler.
        """


class ReduceLROnPlateau(ChangeSchedulerOnPlateauCallback[_Out, _Tgt]):
    """Multiply the learning rate by ``factor`` on each plateau.

    Reductions compound: with ``factor=0.5`` the second plateau gives a
    quarter of the scheduled rate.

    Attributes:
        monitor: the metric monitor.
        cooldown: the calls without changes after a change.
        factor: the multiplier applied at each plateau, in (0, 1).
    """

    def __init__(
        self,
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
        min_delta: float = 1e-8,
        patience: int = 0,
        best_is: BestIs = 'auto',
        filter_fn: FilterFn = get_last,
        cooldown: int = 0,
        factor: float = 0.1,
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
            cooldown: the calls without changes after a change.
            factor: the multiplier applied at each plateau, in (0, 1).

        Raises:
            ValueError: if factor is not in (0, 1).
        """
        super().__init__(
            metric, monitor, min_delta, patience, best_is, filter_fn, cooldown
        )
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            msg = f'Expected factor to be a number, got {factor!r}.'
            raise TypeError(msg)
        if not 0 < factor < 1:
            msg = f'Expected factor in (0, 1), got {factor!r}.'
            raise ValueError(msg)
        self.factor: float = float(factor)

    def get_scheduler(
        self, epoch: int, scheduler: SchedulerProtocol
    ) -> SchedulerProtocol:
        """Rescale the scheduler in use by ``factor``.

        Args:
            epoch: the current epoch.
            scheduler: the scheduler in use.

        Returns:
            The rescaled scheduler (nested rescalings are merged).
        """
        if isinstance(scheduler, schedulers.RescaleScheduler):
            return schedulers.RescaleScheduler(
                scheduler.base_scheduler, scheduler.factor * self.factor
            )
        return schedulers.RescaleScheduler(scheduler, self.factor)


class RestartScheduleOnPlateau(ChangeSchedulerOnPlateauCallback[_Out, _Tgt]):
    """Restart the schedule from its beginning on each plateau.

    The new scheduler is ``WarmupScheduler(scheduler, epoch)``: the epochs
    trained so far count as a warm-up, and the schedule starts again from
    the base rate. A later restart restarts the same schedule (not the
    restarted one).

    Attributes:
        monitor: the metric monitor.
        cooldown: the calls without changes after a change.
    """

    _last: schedulers.WarmupScheduler | None = None

    def get_scheduler(
        self, epoch: int, scheduler: SchedulerProtocol
    ) -> SchedulerProtocol:
        """Restart the schedule at this epoch.

        Args:
            epoch: the current epoch.
            scheduler: the scheduler in use.

        Returns:
            A scheduler equal to the restarted schedule from now on.
        """
        restarted = schedulers.WarmupScheduler(
            self._unwrap_restart(scheduler), epoch
        )
        self._last = restarted
        return restarted

    def _unwrap_restart(
        self, scheduler: SchedulerProtocol
    ) -> SchedulerProtocol:
        # a previous restart is undone (else its warm-up would be replayed);
        # rescalings commute with the shift in epochs and are kept
        last = self._last
        if last is None:
            return scheduler
        if scheduler == last:
            return cast('SchedulerProtocol', last.base_scheduler)
        if isinstance(scheduler, schedulers.RescaleScheduler):
            inner = cast('SchedulerProtocol', scheduler.base_scheduler)
            return schedulers.RescaleScheduler(
                self._unwrap_restart(inner), scheduler.factor
            )
        return scheduler
