"""Filters that turn a history of values into one value.

A monitored metric can be smoothed before it is compared, e.g. by the
early-stopping and plateau hooks: :func:`get_moving_average` weighs recent
values most, :func:`get_trailing_mean` averages the last few. Both return
picklable callables with a descriptive ``__name__``.

0.1.0rc11 moved the filters here from ``drytorch.utils.average`` (its
averagers went to :mod:`drytorch.lib.aggregators`); ``drytorch.utils.average``
still gives the same functions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from drytorch.utils import errors

__all__ = ['get_moving_average', 'get_trailing_mean']


class _MovingAverage:
    """Exponentially weighted mean of the most recent values."""

    def __init__(self, decay: float, mass_coverage: float) -> None:
        # the ranges of 0.1.0rc5: a coverage under 1 - decay would keep
        # less than the latest value's own weight
        if not 0 < decay < 1:
            msg = f'Expected 0 < decay < 1, got {decay}.'
            raise ValueError(msg)
        if not 1 - decay <= mass_coverage <= 1:
            msg = (
                f'Expected 1 - decay <= mass_coverage <= 1 (decay={decay}), '
                f'got {mass_coverage}.'
            )
            raise ValueError(msg)
        self.decay = decay
        self.mass_coverage = mass_coverage
        self.window: int | None
        if mass_coverage == 1:
            self.window = None
        else:
            # Smallest n such that the n most recent weights hold
            # mass_coverage of the infinite series: 1 - decay**n >= coverage.
            ratio = math.log(1 - mass_coverage) / math.log(decay)
            self.window = max(1, math.ceil(ratio - 1e-9))
        self.__name__ = (
            f'moving_average(decay={decay}, mass_coverage={mass_coverage})'
        )

    def __call__(self, values: Sequence[float]) -> float:
        if not values:
            raise errors.EmptyHistoryError(self.__name__)
        weight = 1.0
        total = 0.0
        mass = 0.0
        for value in itertools.islice(reversed(values), self.window):
            total += weight * value
            mass += weight
            weight *= self.decay
        return total / mass

    def __repr__(self) -> str:
        return self.__name__


class _TrailingMean:
    """Mean of the most recent values."""

    def __init__(self, window_size: int) -> None:
        if (
            not isinstance(window_size, int)
            or isinstance(window_size, bool)
            or window_size < 1
        ):
            msg = (
                f'Expected a positive integer window_size, got {window_size}.'
            )
            raise ValueError(msg)
        self.window_size = window_size
        self.__name__ = f'trailing_mean(window_size={window_size})'

    def __call__(self, values: Sequence[float]) -> float:
        if not values:
            raise errors.EmptyHistoryError(self.__name__)
        recent = list(itertools.islice(reversed(values), self.window_size))
        return sum(recent) / len(recent)

    def __repr__(self) -> str:
        return self.__name__


def get_moving_average(
    decay: float = 0.9, mass_coverage: float = 0.99
) -> Callable[[Sequence[float]], float]:
    """Return a filter computing an exponential moving average.

    The most recent value weighs 1, the one before ``decay``, then
    ``decay**2`` and so on; the weights are normalised. Older values are
    ignored once the weights kept hold ``mass_coverage`` of the total weight
    of an infinite history.

    Args:
        decay: weight ratio between consecutive values, in (0, 1).
        mass_coverage: share of the weight to keep, in [1 - decay, 1]; 1
            keeps the whole history.

    Returns:
        A picklable callable from a non-empty sequence of floats to a float,
        whose ``__name__`` describes it; an empty sequence raises
        EmptyHistoryError (a ValueError and a ZeroDivisionError).

    Raises:
        ValueError: if an argument is out of its range.
    """
    return _MovingAverage(decay, mass_coverage)


def get_trailing_mean(window_size: int) -> Callable[[Sequence[float]], float]:
    """Return a filter computing the mean of the last ``window_size`` values.

    Shorter histories are averaged whole.

    Args:
        window_size: how many of the most recent values to average.

    Returns:
        A picklable callable from a non-empty sequence of floats to a float,
        whose ``__name__`` is e.g. ``trailing_mean(window_size=3)``; an
        empty sequence raises EmptyHistoryError (a ValueError and a
        ZeroDivisionError).

    Raises:
        ValueError: if window_size is not a positive integer.
    """
    return _TrailingMean(window_size)
