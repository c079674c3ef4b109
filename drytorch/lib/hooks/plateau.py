"""Callbacks that change the learning-rate scheduler on a plateau."""

from __future__ import annotations

import abc
import numbers
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from drytorch.lib import schedulers
from drytorch.lib._positional import reference_positionals
from drytorch.lib.hooks.monitoring import (
    MetricMonitor,
    MonitoringHook,
    MonitorOptions,
)
from drytorch.lib.hooks.registry import _check_int

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from drytorch.core.protocols import (
        MonitorProtocol,
        SchedulerProtocol,
        TrainerProtocol,
    )

__all__ = [
    'ChangeSchedulerOnPlateauCallback',
    'PlateauOptions',
    'ReduceLROnPlateau',
    'RestartScheduleOnPlateau',
]

_Out = TypeVar('_Out')
_Tgt = TypeVar('_Tgt')


class PlateauOptions(MonitorOptions, total=False):
    """The options of the plateau hooks: :class:`MonitorOptions` and these.

    Keys:
        patience: the number of non-improving values tolerated before a
            change (default 0).
        cooldown: the calls without changes after a change (default 0).
    """

    patience: int
    cooldown: int


def _current_scheduler(trainer: TrainerProtocol) -> SchedulerProtocol:
    # starting from the scheduler in use lets successive changes compound
    current = getattr(trainer, 'current_scheduler', None)
    if current is None:
        return trainer.learning_schema.scheduler
    return current  # type: ignore[no-any-return]


class ChangeSchedulerOnPlateauCallback(
    MonitoringHook[_Out, _Tgt], Generic[_Out, _Tgt], abc.ABC
):
    """Change the learning-rate scheduler when the metric plateaus.

    The value is recorded at every call. When it neither improves nor has
    patience left, the trainer's scheduler is replaced by
    :meth:`get_scheduler` applied to the scheduler in use (so successive
    changes compound), the patience is restored and the next ``cooldown``
    calls make no change.

    Attributes:
        metric_monitor: the metric monitor.
        cooldown: the calls without changes after a change.
    """

    @reference_positionals(
        'min_delta', 'patience', 'best_is', 'filter_fn', 'cooldown'
    )
    def __init__(
        self,
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
        **options: Unpack[PlateauOptions],
    ) -> None:
        """Initialize.

        Args:
            metric: as in :class:`MetricMonitor`.
            monitor: as in :class:`MetricMonitor`.
            **options: see :class:`PlateauOptions`.
        """
        cooldown = options.pop('cooldown', 0)
        patience = options.pop('patience', 0)
        # what is left are the MonitorOptions (mypy does not narrow a pop)
        rest = cast('MonitorOptions', options)
        self.metric_monitor = MetricMonitor(
            metric, monitor, patience=patience, **rest
        )
        self.cooldown = _check_int('cooldown', cooldown, 0)
        self._cooldown_left = 0

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Record the value and change the scheduler on a plateau.

        Args:
            trainer: the trainer running the hook.
        """
        monitor = self.metric_monitor
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
        metric_monitor: the metric monitor.
        cooldown: the calls without changes after a change.
        factor: the multiplier applied at each plateau, in (0, 1).
    """

    @reference_positionals(
        'min_delta', 'patience', 'best_is', 'filter_fn', 'factor', 'cooldown'
    )
    def __init__(
        self,
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
        *,
        factor: float = 0.1,
        **options: Unpack[PlateauOptions],
    ) -> None:
        """Initialize.

        Args:
            metric: as in :class:`MetricMonitor`.
            monitor: as in :class:`MetricMonitor`.
            factor: the multiplier applied at each plateau, in (0, 1).
            **options: see :class:`PlateauOptions`.

        Raises:
            ValueError: if factor is not in (0, 1).
        """
        super().__init__(metric, monitor, **options)
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
        """The scheduler in use rescaled by ``factor`` (merged if nested)."""
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
        metric_monitor: the metric monitor.
        cooldown: the calls without changes after a change.
    """

    _last: schedulers.WarmupScheduler | None = None

    def get_scheduler(
        self, epoch: int, scheduler: SchedulerProtocol
    ) -> SchedulerProtocol:
        """The schedule in use, restarted at this epoch."""
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
