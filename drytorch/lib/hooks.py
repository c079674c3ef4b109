"""Hooks: callables the trainer runs before and after each epoch.

A trainer keeps two :class:`HookRegistry` objects, ``pre_epoch_hooks`` and
``post_epoch_hooks``; each runs its hooks with the trainer as only argument,
in the order they were registered.

Order rule: ``Trainer.add_validation`` registers the validation pass as a
post-epoch hook, so it runs before every post-epoch hook registered after
it and after those registered before it. A monitoring hook (early stopping,
pruning, plateau schedulers) reads the metrics of the last validation pass,
so it must be registered *after* ``add_validation`` to see the current
epoch's metrics; registered before, it sees the previous epoch's values
(or none at all on the first epoch).

Hooks compose with :meth:`TrainerHook.bind`, for example to save a
checkpoint every ten epochs (and when training is terminated)::

    trainer.post_epoch_hooks.register(saving_hook.bind(call_every(10)))

Monitoring hooks find their value in the ``computed_metrics`` of a monitor:
the one given, else the trainer's validation, else the trainer itself.
Which direction is better comes from the metric when it declares
``higher_is_better``; with no metric given, the first computed metric is
monitored and the direction comes from the loss (the monitor's objective,
else the trainer's).
"""

from __future__ import annotations

import abc
import functools
import numbers
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Literal,
    ParamSpec,
    TypeVar,
    cast,
)

from drytorch.core import exceptions
from drytorch.lib import schedulers
from drytorch.lib.objectives import MetricTracker

if TYPE_CHECKING:
    from typing_extensions import Self

    from drytorch.core.protocols import (
        MonitorProtocol,
        SchedulerProtocol,
        TrainerProtocol,
    )

__all__ = [
    'CallEvery',
    'ChangeSchedulerOnPlateauCallback',
    'EarlyStoppingCallback',
    'Hook',
    'HookRegistry',
    'MetricExtractor',
    'MetricMonitor',
    'OptionalCallable',
    'PruneCallback',
    'ReduceLROnPlateau',
    'RestartScheduleOnPlateau',
    'StaticHook',
    'TrainerHook',
    'call_every',
    'get_last',
    'saving_hook',
    'static_hook_class',
]

_T = TypeVar('_T')
_Obj = TypeVar('_Obj')
_P = ParamSpec('_P')

BestIs = Literal['auto', 'higher', 'lower']
FilterFn = Callable[[Sequence[float]], float]

get_last: FilterFn = operator.itemgetter(-1)
"""Default filter: the last recorded value."""


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f'Expected {name} to be an integer, got {value!r}.'
        raise TypeError(msg)
    if value < minimum:
        msg = f'Expected {name} >= {minimum}, got {value!r}.'
        raise ValueError(msg)
    return int(value)


class HookRegistry(Generic[_Obj]):
    """An ordered list of hooks called with one argument.

    Attributes:
        hooks: the registered hooks, in calling order.
    """

    def __init__(self) -> None:
        """Create an empty registry."""
        self.hooks: list[Callable[[_Obj], Any]] = []

    def execute(self, obj: _Obj) -> None:
        """Call every hook with ``obj``, in registration order.

        Args:
            obj: the argument of the hooks (the trainer).
        """
        for hook in self.hooks:
            hook(obj)

    def register(self, hook: Callable[[_Obj], Any]) -> None:
        """Append a hook.

        Args:
            hook: a callable taking one argument.

        Raises:
            TypeError: if hook is not callable.
        """
        if not callable(hook):
            msg = f'Expected a callable hook, got {hook!r}.'
            raise TypeError(msg)
        self.hooks.append(hook)

    def register_all(self, hook_list: Sequence[Callable[[_Obj], Any]]) -> None:
        """Append several hooks, keeping their order.

        Args:
            hook_list: callables taking one argument.

        Raises:
            TypeError: if a hook is not callable (none is registered then).
        """
        hooks = list(hook_list)
        for hook in hooks:
            if not callable(hook):
                msg = f'Expected a callable hook, got {hook!r}.'
                raise TypeError(msg)
        self.hooks.extend(hooks)

    def __len__(self) -> int:
        return len(self.hooks)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.hooks!r})'


class TrainerHook(abc.ABC):
    """Base class of the hooks that receive the trainer."""

    @abc.abstractmethod
    def __call__(self, trainer: TrainerProtocol) -> None:
        """Run the hook.

        Args:
            trainer: the trainer running the hook.
        """

    def bind(self, f: Callable[[Self], _T]) -> _T:
        """Return ``f(self)``, to wrap the hook (see :func:`call_every`).

        Args:
            f: a function of the hook.

        Returns:
            The result of ``f(self)``.
        """
        return f(self)


class Hook(TrainerHook):
    """Wrap a function of the trainer.

    Attributes:
        wrapped: the function called with the trainer.
    """

    def __init__(self, wrapped: Callable[[TrainerProtocol], Any]) -> None:
        """Initialize.

        Args:
            wrapped: a function called with the trainer.
        """
        if not callable(wrapped):
            msg = f'Expected a callable, got {wrapped!r}.'
            raise TypeError(msg)
        self.wrapped = wrapped

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Call the wrapped function with the trainer.

        Args:
            trainer: the trainer running the hook.
        """
        self.wrapped(trainer)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.wrapped!r})'


class StaticHook(TrainerHook):
    """Wrap a function with no arguments (the trainer is not passed).

    Attributes:
        wrapped: the function called.
    """

    def __init__(self, wrapped: Callable[[], Any]) -> None:
        """Initialize.

        Args:
            wrapped: a function called with no arguments.
        """
        if not callable(wrapped):
            msg = f'Expected a callable, got {wrapped!r}.'
            raise TypeError(msg)
        self.wrapped = wrapped

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Call the wrapped function, ignoring the trainer.

        Args:
            trainer: the trainer running the hook (unused).
        """
        self.wrapped()

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.wrapped!r})'


class OptionalCallable(Hook, abc.ABC):
    """A hook that calls the wrapped function only when a condition holds."""

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Call the wrapped function if :meth:`_should_call` allows it.

        Args:
            trainer: the trainer running the hook.
        """
        if self._should_call(trainer):
            self.wrapped(trainer)

    @abc.abstractmethod
    def _should_call(self, trainer: TrainerProtocol) -> bool:
        """Whether to call the wrapped function now."""


class CallEvery(OptionalCallable):
    """Call the wrapped function every ``interval`` epochs from ``start``.

    It is called when ``epoch >= start`` and ``(epoch - start) % interval
    == 0``, and also whenever the trainer is terminated, so that a final
    action (saving, validating) is not skipped.

    Attributes:
        wrapped: the function called with the trainer.
        interval: the number of epochs between calls.
        start: the first epoch of a call.
    """

    def __init__(
        self,
        wrapped: Callable[[TrainerProtocol], Any],
        interval: int,
        start: int = 0,
    ) -> None:
        """Initialize.

        Args:
            wrapped: a function called with the trainer.
            interval: the number of epochs between calls (positive).
            start: the first epoch of a call (non-negative).

        Raises:
            TypeError: if interval or start is not an integer.
            ValueError: if interval < 1 or start < 0.
        """
        super().__init__(wrapped)
        self.interval = _check_int('interval', interval, 1)
        self.start = _check_int('start', start, 0)

    def _should_call(self, trainer: TrainerProtocol) -> bool:
        if trainer.terminated:
            return True
        epoch = trainer.model.epoch
        start = self.start
        return epoch >= start and (epoch - start) % self.interval == 0

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}({self.wrapped!r}, '
            f'interval={self.interval}, start={self.start})'
        )


def call_every(
    interval: int, start: int = 0
) -> Callable[[Callable[[TrainerProtocol], Any]], CallEvery]:
    """Return a decorator that makes a hook run every ``interval`` epochs.

    Use it as ``hook.bind(call_every(5))`` or as ``@call_every(5)`` on a
    function of the trainer. See :class:`CallEvery`.

    Args:
        interval: the number of epochs between calls (positive).
        start: the first epoch of a call (non-negative).

    Returns:
        A function wrapping a hook in a :class:`CallEvery`.

    Raises:
        TypeError: if interval or start is not an integer.
        ValueError: if interval < 1 or start < 0.
    """
    _check_int('interval', interval, 1)
    _check_int('start', start, 0)

    def _decorator(func: Callable[[TrainerProtocol], Any]) -> CallEvery:
        return CallEvery(func, interval, start)

    return _decorator


def _save_checkpoint(trainer: TrainerProtocol) -> None:
    trainer.save_checkpoint()


saving_hook = Hook(_save_checkpoint)
"""Hook that saves the trainer's model and optimizer."""


def static_hook_class(
    cls: Callable[_P, Callable[[], Any]],
) -> Callable[_P, StaticHook]:
    """Class decorator: instances of the class are built as StaticHooks.

    The decorated name becomes a factory with the class's signature that
    returns ``StaticHook(cls(*args, **kwargs))``; the class must be callable
    with no arguments. The class itself stays reachable as the factory's
    ``__wrapped__`` (inside its methods, use ``type(self)``).

    Args:
        cls: a class whose instances are callable with no arguments.

    Returns:
        A factory of StaticHook instances.
    """

    @functools.wraps(cls, updated=())
    def _factory(*args: _P.args, **kwargs: _P.kwargs) -> StaticHook:
        return StaticHook(cls(*args, **kwargs))

    return _factory


def _name_of(metric: object) -> str:
    """The name a metric object's values are logged under."""
    if isinstance(metric, str):
        return metric
    name = getattr(metric, 'name', None)
    if isinstance(name, str):
        return name
    # nn.Module-based metrics (torchmetrics): _get_name is a method
    get_name = getattr(metric, '_get_name', None)
    if callable(get_name):
        name = get_name()
        if isinstance(name, str):
            return name
    return type(metric).__name__


def _direction_of(obj: object) -> Literal['higher', 'lower'] | None:
    higher_is_better = getattr(obj, 'higher_is_better', None)
    if higher_is_better is True:
        return 'higher'
    if higher_is_better is False:
        return 'lower'
    return None


class MetricExtractor:
    """Find a monitored metric's value and direction.

    The monitor is the one given, else the trainer's validation when it has
    one, else the trainer (looked up at each call, so a validation added
    after the hook is created is used). The metric's name is the string
    given, or the name of the metric object (its ``name``, else its
    ``_get_name()`` for torch modules, else its class name), or, with no
    metric, the first key of the monitor's computed metrics (fixed at the
    first extraction).

    Attributes:
        metric: the metric given (a name, an object or None).
        monitor: the monitor given, or None.
    """

    def __init__(
        self,
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
    ) -> None:
        """Initialize.

        Args:
            metric: the metric's name or object, or None for the first
                computed metric (normally the loss).
            monitor: where to read the metric; None for the trainer's
                validation, or the trainer when it has none.
        """
        self.metric = metric
        self.monitor = monitor
        self._metric_name = None if metric is None else _name_of(metric)

    @property
    def metric_name(self) -> str | None:
        """The monitored metric's name (None until known)."""
        return self._metric_name

    def get_monitor(self, trainer: TrainerProtocol) -> MonitorProtocol:
        """The object whose computed metrics are monitored.

        Args:
            trainer: the trainer running the hook.
        """
        if self.monitor is not None:
            return self.monitor
        validation = trainer.validation
        if validation is not None:
            return validation
        return trainer

    def extract_metric_value(
        self, trainer: TrainerProtocol, tracker: MetricTracker | None = None
    ) -> float:
        """Read the monitored metric's current value.

        Args:
            trainer: the trainer running the hook.
            tracker: a tracker to configure, if any: its missing metric name
                is filled in and, if its direction is still unknown, it is
                set from :meth:`get_metric_best_is`.

        Returns:
            The value.

        Raises:
            MetricNotFoundError: if the monitor has not computed the metric.
        """
        monitor = self.get_monitor(trainer)
        metrics = monitor.computed_metrics
        name = self._metric_name
        if name is None:
            name = next(iter(metrics), None)
            if name is None:
                raise exceptions.MetricNotFoundError(monitor.name, None)
            self._metric_name = name
        try:
            value = metrics[name]
        except KeyError:
            raise exceptions.MetricNotFoundError(monitor.name, name) from None
        if tracker is not None:
            if tracker.metric_name is None:
                tracker.metric_name = name
            if tracker.best_is == 'auto':
                direction = self.get_metric_best_is(trainer)
                if direction is not None:
                    tracker.best_is = direction
        return float(value)

    def get_metric_best_is(
        self, trainer: TrainerProtocol | None = None
    ) -> Literal['higher', 'lower'] | None:
        """Which direction is better for the metric, when it is known.

        A metric object tells with its ``higher_is_better``. Otherwise the
        loss is asked (the monitor's ``objective``, then the trainer's)
        when its name is the monitored metric's name.

        Args:
            trainer: the trainer, to ask its loss; None to ask only the
                metric object.

        Returns:
            'higher', 'lower', or None when unknown.
        """
        if self.metric is not None and not isinstance(self.metric, str):
            direction = _direction_of(self.metric)
            if direction is not None or trainer is None:
                return direction
        if trainer is None or self._metric_name is None:
            return None
        monitor = self.get_monitor(trainer)
        candidates = [getattr(monitor, 'objective', None)]
        if monitor is not trainer:
            candidates.append(trainer.objective)
        for objective in candidates:
            if objective is not None and (
                _name_of(objective) == self._metric_name
            ):
                return _direction_of(objective)
        return None

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(metric={self.metric!r}, '
            f'monitor={self.monitor!r})'
        )


class MetricMonitor:
    """Record a monitored metric and track its best value and patience.

    Combines a :class:`MetricExtractor` (where the value comes from) with a
    :class:`~drytorch.lib.objectives.MetricTracker` (its history). With
    ``best_is='auto'`` the direction declared by the metric (or by the loss
    when no metric is given) is used; an explicit ``best_is`` is kept.

    Attributes:
        extractor: finds the value.
        tracker: keeps the history and the patience.
    """

    def __init__(
        self,
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
        min_delta: float = 1e-8,
        patience: int = 0,
        best_is: BestIs = 'auto',
        filter_fn: FilterFn = get_last,
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
        """
        self.extractor = MetricExtractor(metric, monitor)
        if best_is == 'auto':
            best_is = self.extractor.get_metric_best_is() or 'auto'
        self.tracker = MetricTracker(
            self.extractor.metric_name, min_delta, patience, best_is, filter_fn
        )

    @property
    def metric_name(self) -> str | None:
        """The monitored metric's name (None until known)."""
        return self.extractor.metric_name

    @property
    def best_value(self) -> float:
        """The best value so far."""
        return self.tracker.best_value

    @property
    def filtered_value(self) -> float:
        """The monitored value: the filter applied to the history."""
        return self.tracker.filtered_value

    @property
    def history(self) -> Sequence[float]:
        """The recorded values."""
        return self.tracker.history

    @property
    def best_is(self) -> str:
        """'higher', 'lower', or 'auto' while unknown."""
        return self.tracker.best_is

    def is_better(self, value: float, reference: float) -> bool:
        """Whether a value improves on a reference by more than min_delta.

        Args:
            value: the candidate.
            reference: the value to beat.
        """
        return self.tracker.is_better(value, reference)

    def is_improving(self) -> bool:
        """Compare the monitored value with the best and update patience."""
        return self.tracker.is_improving()

    def is_patient(self) -> bool:
        """Whether the patience is not exhausted yet."""
        return self.tracker.is_patient()

    def reset_patience(self) -> None:
        """Restore the full patience."""
        self.tracker.reset_patience()

    def record_metric_value(self, trainer: TrainerProtocol) -> float:
        """Read the current value and add it to the history.

        Args:
            trainer: the trainer running the hook.

        Returns:
            The value recorded.

        Raises:
            MetricNotFoundError: if the monitor has not computed the metric.
        """
        value = self.extractor.extract_metric_value(trainer, self.tracker)
        self.tracker.add_value(value)
        return value

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(metric_name={self.metric_name!r}, '
            f'best_is={self.best_is!r}, patience={self.tracker.patience})'
        )


class EarlyStoppingCallback(TrainerHook):
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
        self.monitor = MetricMonitor(
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


class PruneCallback(TrainerHook):
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
        self.monitor = MetricMonitor(
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


def _current_scheduler(trainer: TrainerProtocol) -> SchedulerProtocol:
    # starting from the scheduler in use lets successive changes compound
    current = getattr(trainer, 'current_scheduler', None)
    if current is None:
        return trainer.learning_schema.scheduler
    return current  # type: ignore[no-any-return]


class ChangeSchedulerOnPlateauCallback(TrainerHook, abc.ABC):
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
        self.monitor = MetricMonitor(
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


class ReduceLROnPlateau(ChangeSchedulerOnPlateauCallback):
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


class RestartScheduleOnPlateau(ChangeSchedulerOnPlateauCallback):
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
