"""Monitoring: the history of a metric, with patience bookkeeping."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, MutableSequence, Sequence
from typing import Generic, Literal, TypeVar

from drytorch.core import exceptions

__all__ = ['MetricTracker']

_Out = TypeVar('_Out')
_Tgt = TypeVar('_Tgt')


class MetricTracker(Generic[_Out, _Tgt]):
    """History of a monitored value, with patience bookkeeping.

    Which direction is better comes from ``best_is``: ``'higher'`` or
    ``'lower'``, or ``'auto'`` to infer it from the values. Callers that know
    the monitored metric's ``higher_is_better`` should pass it as
    ``best_is`` (or set :attr:`best_is` later). With ``'auto'``, the
    direction is decided by the first value that differs from the first one
    recorded (NaN values are skipped): ``'lower'`` if it is smaller,
    ``'higher'`` if it is larger. Equal values never decide, and until the
    direction is known no value counts as better than another.

    ``patience`` is the number of consecutive non-improving values
    tolerated: with ``patience=0`` the first one exhausts it, with
    ``patience=1`` the second.

    Attributes:
        metric_name: the name of the monitored metric (None: the default).
        min_delta: the margin a value must exceed the best by to count as an
            improvement.
        patience: how many non-improving values are tolerated.
        filter_fn: function from the history to the value compared with the
            best.
        history: the values added so far.
    """

    def __init__(
        self,
        metric_name: str | None = None,
        min_delta: float = 1e-8,
        patience: int = 0,
        best_is: Literal['auto', 'higher', 'lower'] = 'auto',
        filter_fn: Callable[[Sequence[float]], float] = operator.itemgetter(
            -1
        ),
    ) -> None:
        """Create the tracker.

        Args:
            metric_name: the name of the monitored metric.
            min_delta: minimum margin of an improvement (non-negative).
            patience: non-improving values tolerated (non-negative).
            best_is: 'higher', 'lower' or 'auto'.
            filter_fn: function from the history to the monitored value.

        Raises:
            ValueError: if an argument is out of range.
        """
        if isinstance(patience, bool) or not isinstance(patience, int):
            msg = f'Expected an integer patience, got {patience!r}.'
            raise TypeError(msg)
        if patience < 0:
            msg = f'Expected a non-negative patience, got {patience}.'
            raise ValueError(msg)
        if not min_delta >= 0:
            msg = f'Expected a non-negative min_delta, got {min_delta}.'
            raise ValueError(msg)
        self.metric_name = metric_name
        self.min_delta = min_delta
        self.patience = patience
        self.filter_fn = filter_fn
        self.history: MutableSequence[float] = []
        self._best_is: str = 'auto'
        self._direction: str | None = None
        self._best: float | None = None
        self._countdown = patience
        self.best_is = best_is

    @property
    def best_is(self) -> str:
        """'higher', 'lower', or 'auto' while the direction is unknown."""
        if self._best_is == 'auto' and self._direction is not None:
            return self._direction
        return self._best_is

    @best_is.setter
    def best_is(self, value: str) -> None:
        if value not in ('auto', 'higher', 'lower'):
            msg = (
                f"Expected best_is 'auto', 'higher' or 'lower', got {value!r}."
            )
            raise ValueError(msg)
        self._best_is = value
        if value == 'auto':
            self._direction = None
            for item in self.history:
                self._infer_direction(item)
                if self._direction is not None:
                    break
        else:
            self._direction = value

    @property
    def filtered_value(self) -> float:
        """The value monitored: ``filter_fn(history)``."""
        return self.filter_fn(self.history)

    @property
    def best_value(self) -> float:
        """The best monitored value so far (the first until improved on).

        Raises:
            ResultNotAvailableError: if no value was added.
        """
        if self._best is not None:
            return self._best
        if not self.history:
            raise exceptions.ResultNotAvailableError()
        return self.history[0]

    def add_value(self, value: float) -> None:
        """Record a new value.

        Args:
            value: the metric's value.
        """
        self.history.append(value)
        if self._direction is None:
            self._infer_direction(value)

    def _infer_direction(self, value: float) -> None:
        first = next((v for v in self.history if not math.isnan(v)), None)
        if first is None or math.isnan(value) or value == first:
            return
        self._direction = 'lower' if value < first else 'higher'

    def is_better(self, value: float, reference: float) -> bool:
        """Whether a value improves on a reference by more than min_delta.

        NaN is never better; any other value is better than NaN. While the
        direction is unknown (``'auto'`` with equal values only), no value is
        better.

        Args:
            value: the candidate.
            reference: the value to beat.
        """
        if math.isnan(value):
            return False
        if math.isnan(reference):
            return True
        if self._direction == 'higher':
            return value > reference + self.min_delta
        if self._direction == 'lower':
            return value < reference - self.min_delta
        return False

    def is_improving(self) -> bool:
        """Compare the monitored value with the best and update patience.

        True while at most one value was recorded. Otherwise an
        improvement records the new best and restores the patience; a value
        that does not improve uses up one unit of patience.
        """
        if len(self.history) <= 1:
            return True
        value = self.filtered_value
        if self.is_better(value, self.best_value):
            self._best = value
            self._countdown = self.patience
            return True
        self._countdown -= 1
        return False

    def is_patient(self) -> bool:
        """Whether the patience is not exhausted yet."""
        return self._countdown >= 0

    def reset_patience(self) -> None:
        """Restore the full patience."""
        self._countdown = self.patience

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(metric_name={self.metric_name!r}, '
            f'best_is={self.best_is!r}, patience={self.patience})'
        )
