"""Epoch-based learning-rate schedules.

A scheduler maps ``(base_lr, epoch)`` to the learning rate of that epoch.
Every scheduler here is an immutable dataclass and is proportional to the
base rate: ``scheduler(k * base_lr, epoch) == k * scheduler(base_lr, epoch)``
for any ``k > 0``, so that per-module base rates scale their schedules.

Wrappers change an existing schedule; the factories :func:`rescale`,
:func:`restart` and :func:`warmup` build them for :meth:`bind`::

    schedule = CosineScheduler(100).bind(warmup(5)).bind(restart(50, 0.5))

The wrappers are :class:`TransformScheduler` s, so ``bind`` returns a
:class:`ComposedScheduler` as in drytorch 0.1.0rc11, and the wrapper
itself as in 0.1.0rc5 (see :mod:`drytorch.lib._scheduling`).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable

from drytorch.lib._scheduling import (
    AbstractScheduler,
    BaseScheduler,
    ComposedScheduler,
    Schedule,
    TransformScheduler,
)

__all__ = [
    'AbstractScheduler',
    'BaseScheduler',
    'ComposedScheduler',
    'ConstantScheduler',
    'CosineScheduler',
    'ExponentialScheduler',
    'PolynomialScheduler',
    'RescaleScheduler',
    'RestartScheduler',
    'StepScheduler',
    'TransformScheduler',
    'WarmupScheduler',
    'rescale',
    'restart',
    'warmup',
]


def _check_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f'Expected {name} to be a number, got {value!r}.'
        raise TypeError(msg)
    return float(value)


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f'Expected {name} to be an integer, got {value!r}.'
        raise TypeError(msg)
    return int(value)


def _check_positive(name: str, value: object) -> None:
    if not _check_real(name, value) > 0:
        msg = f'Expected {name} > 0, got {value!r}.'
        raise ValueError(msg)


def _check_positive_int(name: str, value: object) -> None:
    if not _check_int(name, value) > 0:
        msg = f'Expected {name} to be a positive integer, got {value!r}.'
        raise ValueError(msg)


def _check_non_negative_int(name: str, value: object) -> None:
    if not _check_int(name, value) >= 0:
        msg = f'Expected {name} to be a non-negative integer, got {value!r}.'
        raise ValueError(msg)


def _check_fraction(name: str, value: object, *, allow_zero: bool) -> None:
    number = _check_real(name, value)
    valid = 0 <= number <= 1 if allow_zero else 0 < number <= 1
    if not valid:
        interval = '[0, 1]' if allow_zero else '(0, 1]'
        msg = f'Expected {name} in {interval}, got {value!r}.'
        raise ValueError(msg)


def _check_schedule(name: str, value: object) -> None:
    if not callable(value):
        msg = (
            f'Expected {name} to be a scheduler, a callable '
            f'(base_lr, epoch) -> lr; got {value!r}.'
        )
        raise TypeError(msg)


@dataclasses.dataclass(frozen=True)
class ConstantScheduler(BaseScheduler):
    """Keep the base learning rate."""

    def _compute(self, base_lr: float, epoch: int) -> float:
        return base_lr


@dataclasses.dataclass(frozen=True)
class PolynomialScheduler(BaseScheduler):
    """Decay polynomially to a fraction of the base rate, then stay there.

    For ``epoch < max_epochs`` the rate is
    ``base_lr * (min_decay + (1 - epoch / max_epochs)**power * (1 -
    min_decay))``, afterwards ``base_lr * min_decay``.

    Attributes:
        max_epochs: the epoch where the decay ends.
        power: the exponent of the polynomial.
        min_decay: the final rate as a fraction of the base rate.
    """

    max_epochs: int = 1000
    power: float = 1.0
    min_decay: float = 0.0

    def __post_init__(self) -> None:
        """Validate the parameters."""
        _check_positive_int('max_epochs', self.max_epochs)
        if not _check_real('power', self.power) >= 0:
            msg = f'Expected power >= 0, got {self.power!r}.'
            raise ValueError(msg)
        _check_fraction('min_decay', self.min_decay, allow_zero=True)

    def _compute(self, base_lr: float, epoch: int) -> float:
        min_decay = self.min_decay
        if epoch >= self.max_epochs:
            return base_lr * min_decay
        remaining = (1 - epoch / self.max_epochs) ** self.power
        return base_lr * (min_decay + remaining * (1 - min_decay))


@dataclasses.dataclass(frozen=True)
class ExponentialScheduler(BaseScheduler):
    """Decay exponentially towards a fraction of the base rate.

    The rate is ``(base_lr - floor) * exp_decay**epoch + floor`` with
    ``floor = min_decay * base_lr``.

    Attributes:
        exp_decay: the factor applied each epoch, in (0, 1].
        min_decay: the asymptotic rate as a fraction of the base rate.
    """

    exp_decay: float = 0.975
    min_decay: float = 0.0

    def __post_init__(self) -> None:
        """Validate the parameters."""
        _check_fraction('exp_decay', self.exp_decay, allow_zero=False)
        _check_fraction('min_decay', self.min_decay, allow_zero=True)

    def _compute(self, base_lr: float, epoch: int) -> float:
        floor = self.min_decay * base_lr
        return (base_lr - floor) * self.exp_decay**epoch + floor


@dataclasses.dataclass(frozen=True)
class CosineScheduler(BaseScheduler):
    """Cosine annealing to a fraction of the base rate, then stay there.

    For ``epoch < decay_steps`` the rate is
    ``floor + (base_lr - floor) * (1 + cos(pi * epoch / decay_steps)) / 2``
    with ``floor = min_decay * base_lr``; afterwards ``floor``.

    Attributes:
        decay_steps: the number of epochs of the decay.
        min_decay: the final rate as a fraction of the base rate.
    """

    decay_steps: int = 250
    min_decay: float = 0.01

    def __post_init__(self) -> None:
        """Validate the parameters."""
        _check_positive_int('decay_steps', self.decay_steps)
        _check_fraction('min_decay', self.min_decay, allow_zero=True)

    def _compute(self, base_lr: float, epoch: int) -> float:
        floor = self.min_decay * base_lr
        if epoch >= self.decay_steps:
            return floor
        cosine = (1 + math.cos(math.pi * epoch / self.decay_steps)) / 2
        return floor + (base_lr - floor) * cosine


@dataclasses.dataclass(frozen=True, init=False)
class StepScheduler(BaseScheduler):
    """Multiply the rate by ``gamma`` at each milestone.

    The rate is ``base_lr * gamma**n`` where ``n`` counts the milestones that
    are lower than or equal to the epoch.

    Attributes:
        milestones: the epochs where the rate drops, as a sorted tuple.
        gamma: the factor applied at each milestone, in (0, 1].
    """

    milestones: tuple[int, ...]
    gamma: float

    def __init__(
        self, milestones: Iterable[int] = (200,), gamma: float = 0.1
    ) -> None:
        """Initialize.

        Args:
            milestones: positive epochs in ascending order; any iterable.
            gamma: the factor applied at each milestone, in (0, 1].

        Raises:
            TypeError: if milestones is not an iterable of integers.
            ValueError: if a milestone is not positive, the milestones are
                not in ascending order or gamma is not in (0, 1].
        """
        if not isinstance(milestones, Iterable):
            msg = (
                'Expected milestones to be an iterable of integers, '
                f'got {milestones!r}.'
            )
            raise TypeError(msg)
        stones = tuple(milestones)
        for stone in stones:
            _check_positive_int('every milestone', stone)
        if list(stones) != sorted(stones):
            msg = f'Expected milestones in ascending order, got {stones}.'
            raise ValueError(msg)
        _check_fraction('gamma', gamma, allow_zero=False)
        object.__setattr__(self, 'milestones', stones)
        object.__setattr__(self, 'gamma', gamma)

    def _compute(self, base_lr: float, epoch: int) -> float:
        passed = bisect.bisect_right(self.milestones, epoch)
        return base_lr * self.gamma**passed


@dataclasses.dataclass(frozen=True)
class RescaleScheduler(TransformScheduler):
    """Multiply another schedule by a constant factor.

    Attributes:
        base_scheduler: the wrapped schedule.
        factor: the positive multiplier.
    """

    base_scheduler: Schedule
    factor: float

    def __post_init__(self) -> None:
        """Validate the parameters."""
        _check_schedule('base_scheduler', self.base_scheduler)
        _check_positive('factor', self.factor)

    def _compute(self, base_lr: float, epoch: int) -> float:
        return self.factor * self.base_scheduler(base_lr, epoch)


@dataclasses.dataclass(frozen=True)
class RestartScheduler(TransformScheduler):
    """Start another schedule again every ``restart_interval`` epochs.

    Before ``restart_interval`` the wrapped schedule runs unchanged. From
    then on, with ``n, k = divmod(epoch, restart_interval)``, epoch ``epoch``
    is epoch ``k`` of the wrapped schedule with base rate
    ``restart_fraction * base_lr`` (the fraction does not compound from one
    restart to the next); at an exact multiple (``k == 0``) the wrapped
    schedule is at its end, ``restart_interval``, with the unchanged base.
    Once more than ``max_restart`` restarts are due, the wrapped schedule
    runs at the epoch itself, unchanged, as in drytorch 0.1.0rc5.

    Attributes:
        base_scheduler: the wrapped schedule.
        restart_interval: the length of a cycle in epochs.
        restart_fraction: the factor applied to the base rate at restarts.
        max_restart: the most restarts, or None for no limit.
    """

    base_scheduler: Schedule
    restart_interval: int
    restart_fraction: float = 1.0
    max_restart: int | None = None

    def __post_init__(self) -> None:
        """Validate the parameters."""
        _check_schedule('base_scheduler', self.base_scheduler)
        _check_restart_args(
            self.restart_interval, self.restart_fraction, self.max_restart
        )

    def _compute(self, base_lr: float, epoch: int) -> float:
        interval = self.restart_interval
        if epoch < interval:
            return self.base_scheduler(base_lr, epoch)
        n_restarts, position = divmod(epoch, interval)
        if self.max_restart is not None and n_restarts > self.max_restart:
            return self.base_scheduler(base_lr, epoch)
        if position == 0:
            return self.base_scheduler(base_lr, interval)
        return self.base_scheduler(base_lr * self.restart_fraction, position)


def _check_restart_args(
    restart_interval: int, restart_fraction: float, max_restart: int | None
) -> None:
    _check_positive_int('restart_interval', restart_interval)
    _check_positive('restart_fraction', restart_fraction)
    if max_restart is not None:
        _check_positive_int('max_restart', max_restart)


@dataclasses.dataclass(frozen=True)
class WarmupScheduler(TransformScheduler):
    """Linear warm-up from 0, then another schedule shifted by the warm-up.

    For ``epoch < warmup_steps`` the rate is
    ``base_lr * epoch / warmup_steps``; afterwards
    ``base_scheduler(base_lr, epoch - warmup_steps)``.

    Attributes:
        base_scheduler: the schedule after the warm-up.
        warmup_steps: the number of warm-up epochs.
    """

    base_scheduler: Schedule
    warmup_steps: int = 10

    def __post_init__(self) -> None:
        """Validate the parameters."""
        _check_schedule('base_scheduler', self.base_scheduler)
        _check_non_negative_int('warmup_steps', self.warmup_steps)

    def __repr__(self) -> str:
        steps = self.warmup_steps
        return f'{self.base_scheduler!r} with {steps} warm-up steps'

    def _compute(self, base_lr: float, epoch: int) -> float:
        steps = self.warmup_steps
        if epoch < steps:
            return base_lr * epoch / steps
        return self.base_scheduler(base_lr, epoch - steps)


def rescale(factor: float) -> Callable[[Schedule], RescaleScheduler]:
    """Return a function that rescales a scheduler by a constant factor.

    Args:
        factor: the positive multiplier.

    Returns:
        A function of a scheduler that returns a RescaleScheduler.
    """
    _check_positive('factor', factor)

    def _rescale(scheduler: Schedule) -> RescaleScheduler:
        return RescaleScheduler(scheduler, factor)

    return _rescale


def restart(
    restart_interval: int,
    restart_fraction: float = 1.0,
    max_restart: int | None = None,
) -> Callable[[Schedule], RestartScheduler]:
    """Return a function that makes a scheduler restart periodically.

    Args:
        restart_interval: the length of a cycle in epochs.
        restart_fraction: the factor applied to the base rate each restart.
        max_restart: the most restarts, or None for no limit.

    Returns:
        A function of a scheduler that returns a RestartScheduler.
    """
    _check_restart_args(restart_interval, restart_fraction, max_restart)

    def _restart(scheduler: Schedule) -> RestartScheduler:
        return RestartScheduler(
            scheduler, restart_interval, restart_fraction, max_restart
        )

    return _restart


def warmup(warmup_steps: int = 10) -> Callable[[Schedule], WarmupScheduler]:
    """Return a function that adds a linear warm-up to a scheduler.

    Args:
        warmup_steps: the number of warm-up epochs.

    Returns:
        A function of a scheduler that returns a WarmupScheduler.
    """
    _check_non_negative_int('warmup_steps', warmup_steps)

    def _warmup(scheduler: Schedule) -> WarmupScheduler:
        return WarmupScheduler(scheduler, warmup_steps)

    return _warmup
