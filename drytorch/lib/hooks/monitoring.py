"""Reading a monitored metric and tracking its best value.

:class:`MetricExtractor` finds the metric's value and direction on a
metric source; :class:`MetricMonitor` adds the history, best value and
patience used by the monitoring hooks. :class:`MonitoringHook` is the base
of those hooks: each builds its :class:`MetricMonitor` from the same
arguments, declared and documented once here (``metric``, ``monitor`` and
``patience`` on :class:`MetricMonitor`, the rest in
:class:`MonitorOptions`).

Names: the ``monitor`` argument is the *metric source* (an object with
``computed_metrics``, such as a validation); a hook's
:attr:`MonitoringHook.metric_monitor` is the :class:`MetricMonitor` that
reads it. ``docs/names.md`` lists the older attribute names kept as
aliases.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Literal,
    TypedDict,
    TypeVar,
)

from drytorch.core import exceptions
from drytorch.lib._positional import reference_positionals
from drytorch.lib.hooks.registry import TrainerHook
from drytorch.lib.objectives import MetricTracker

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from drytorch.core.protocols import MonitorProtocol, TrainerProtocol

__all__ = [
    'BestIs',
    'FilterFn',
    'MetricExtractor',
    'MetricMonitor',
    'MonitorOptions',
    'MonitoringHook',
    'get_last',
]

_Out = TypeVar('_Out')
_Tgt = TypeVar('_Tgt')

BestIs = Literal['auto', 'higher', 'lower']
FilterFn = Callable[[Sequence[float]], float]

get_last: FilterFn = operator.itemgetter(-1)
"""Default filter: the last recorded value."""


class MonitorOptions(TypedDict, total=False):
    """How a monitored value is judged: options every monitoring hook takes.

    :class:`MetricMonitor` and the monitoring hooks accept these as keyword
    arguments and pass them on unchanged; every key may be left out.

    Keys:
        min_delta: the margin an improvement must exceed (default 1e-8).
        best_is: 'higher', 'lower' or 'auto' (default). With 'auto' the
            direction declared by the metric is used (by the loss when no
            metric is given), else it is inferred from the values.
        filter_fn: function from the history to the monitored value
            (default: :data:`get_last`).
    """

    min_delta: float
    best_is: BestIs
    filter_fn: FilterFn


def _check_options(options: Mapping[str, Any]) -> None:
    # a TypedDict does not reject unknown keys at runtime: a misspelt
    # keyword must not be ignored silently
    unknown = sorted(set(options) - set(MonitorOptions.__annotations__))
    if unknown:
        msg = f'Unexpected keyword argument(s): {", ".join(unknown)}.'
        raise TypeError(msg)


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

    The metric source is the ``monitor`` given, else the trainer's
    validation when it has one, else the trainer (looked up at each call,
    so a validation added after the hook is created is used). The metric's
    name is the string given, or the name of the metric object (its
    ``name``, else its ``_get_name()`` for torch modules, else its class
    name), or, with no metric, the first key of the source's computed
    metrics (fixed at the first extraction).

    Attributes:
        metric: the metric given (a name, an object or None).
        source: the metric source given as ``monitor``, or None (also
            readable as ``monitor``, its former name).
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
        self.source = monitor
        self._metric_name = None if metric is None else _name_of(metric)

    @property
    def metric_name(self) -> str | None:
        """The monitored metric's name (None until known)."""
        return self._metric_name

    @property
    def monitor(self) -> MonitorProtocol | None:
        """Former name of :attr:`source`."""
        return self.source

    @monitor.setter
    def monitor(self, value: MonitorProtocol | None) -> None:
        self.source = value

    def get_source(self, trainer: TrainerProtocol) -> MonitorProtocol:
        """The object whose computed metrics are monitored.

        Args:
            trainer: the trainer running the hook.
        """
        if self.source is not None:
            return self.source
        validation = trainer.validation
        if validation is not None:
            return validation
        return trainer

    get_monitor = get_source
    """Former name of :meth:`get_source`."""

    def extract_metric_value(
        self, trainer: TrainerProtocol, tracker: MetricTracker | None = None
    ) -> float:
        """Read the monitored metric's current value.

        Args:
            trainer: the trainer running the hook.
            tracker: a metric history to configure, if any: its missing
                metric name is filled in and, if its direction is still
                unknown, it is set from :meth:`get_metric_best_is`.

        Returns:
            The value.

        Raises:
            MetricNotFoundError: if the source has not computed the metric.
        """
        source = self.get_source(trainer)
        metrics = source.computed_metrics
        name = self._metric_name
        if name is None:
            name = next(iter(metrics), None)
            if name is None:
                raise exceptions.MetricNotFoundError(source.name, None)
            self._metric_name = name
        try:
            value = metrics[name]
        except KeyError:
            raise exceptions.MetricNotFoundError(source.name, name) from None
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
        loss is asked (the source's ``objective``, then the trainer's)
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
        source = self.get_source(trainer)
        candidates = [getattr(source, 'objective', None)]
        if source is not trainer:
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
            f'monitor={self.source!r})'
        )


class MetricMonitor(Generic[_Out, _Tgt]):
    """Record a monitored metric and track its best value and patience.

    Combines a :class:`MetricExtractor` (where the value comes from) with a
    :class:`~drytorch.lib.objectives.MetricTracker` (its history). With
    ``best_is='auto'`` the direction declared by the metric (or by the loss
    when no metric is given) is used; an explicit ``best_is`` is kept.

    Attributes:
        extractor: finds the value.
        metric_tracker: keeps the history and the patience (also readable
            as ``tracker``, its former name; it is not an event tracker).
    """

    @reference_positionals('min_delta', 'patience', 'best_is', 'filter_fn')
    def __init__(
        self,
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
        *,
        patience: int = 0,
        **options: Unpack[MonitorOptions],
    ) -> None:
        """Initialize.

        Args:
            metric: the metric's name or object, or None for the first
                computed metric (normally the loss).
            monitor: the metric source, whose ``computed_metrics`` are read;
                None for the trainer's validation, or the trainer when it
                has none.
            patience: the number of non-improving values tolerated.
            **options: how values are judged, see :class:`MonitorOptions`.

        Raises:
            TypeError: for a keyword argument that is not an option.
        """
        _check_options(options)
        self.extractor = MetricExtractor(metric, monitor)
        best_is = options.get('best_is', 'auto')
        if best_is == 'auto':
            best_is = self.extractor.get_metric_best_is() or 'auto'
        self.metric_tracker: MetricTracker[_Out, _Tgt] = MetricTracker(
            self.extractor.metric_name,
            options.get('min_delta', 1e-8),
            patience,
            best_is,
            options.get('filter_fn', get_last),
        )

    @property
    def tracker(self) -> MetricTracker[_Out, _Tgt]:
        """Former name of :attr:`metric_tracker`."""
        return self.metric_tracker

    @property
    def metric_name(self) -> str | None:
        """The monitored metric's name (None until known)."""
        return self.extractor.metric_name

    @property
    def best_value(self) -> float:
        """The best value so far."""
        return self.metric_tracker.best_value

    @property
    def filtered_value(self) -> float:
        """The monitored value: the filter applied to the history."""
        return self.metric_tracker.filtered_value

    @property
    def history(self) -> Sequence[float]:
        """The recorded values."""
        return self.metric_tracker.history

    @property
    def best_is(self) -> str:
        """'higher', 'lower', or 'auto' while unknown."""
        return self.metric_tracker.best_is

    def is_better(self, value: float, reference: float) -> bool:
        """Whether a value improves on a reference by more than min_delta.

        Args:
            value: the candidate.
            reference: the value to beat.
        """
        return self.metric_tracker.is_better(value, reference)

    def is_improving(self) -> bool:
        """Compare the monitored value with the best and update patience."""
        return self.metric_tracker.is_improving()

    def is_patient(self) -> bool:
        """Whether the patience is not exhausted yet."""
        return self.metric_tracker.is_patient()

    def reset_patience(self) -> None:
        """Restore the full patience."""
        self.metric_tracker.reset_patience()

    def record_metric_value(self, trainer: TrainerProtocol) -> float:
        """Read the current value and add it to the history.

        Args:
            trainer: the trainer running the hook.

        Returns:
            The value recorded.

        Raises:
            MetricNotFoundError: if the source has not computed the metric.
        """
        tracker = self.metric_tracker
        value = self.extractor.extract_metric_value(trainer, tracker)
        tracker.add_value(value)
        return value

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(metric_name={self.metric_name!r}, '
            f'best_is={self.best_is!r}, '
            f'patience={self.metric_tracker.patience})'
        )


class MonitoringHook(TrainerHook[Any, _Tgt, _Out], Generic[_Out, _Tgt]):
    """Base of the hooks that record a monitored metric at every call.

    Subclasses build their :class:`MetricMonitor` from the arguments of
    :class:`MetricMonitor` (their constructors take the same ones) and
    read it as :attr:`metric_monitor`.

    Attributes:
        metric_monitor: the metric monitor (also readable as ``monitor``,
            its former name; the ``monitor`` argument is the metric source).
    """

    metric_monitor: MetricMonitor[_Out, _Tgt]

    @property
    def monitor(self) -> MetricMonitor[_Out, _Tgt]:
        """Former name of :attr:`metric_monitor`."""
        return self.metric_monitor
