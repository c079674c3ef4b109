"""The base classes of the learning-rate schedulers and their composition.

A scheduler maps ``(base_lr, epoch)`` to a rate. :class:`BaseScheduler`
schedules compute it themselves (cosine, steps, ...); a
:class:`TransformScheduler` changes another schedule (its ``logic``):
rescales, restarts or warms it up. :meth:`AbstractScheduler.bind` applies a
transformation and always returns a :class:`ComposedScheduler`, which
keeps the name of the first schedule and the parameters of every step, so
that the result can be documented.

Both releases' spellings work: in 0.1.0rc5 ``bind(f)`` returned ``f``'s
result, here it does too whenever that result is a scheduler (the
transformations of :mod:`drytorch.lib.schedulers` are composed schedulers
themselves); a transformation written for 0.1.0rc11 that returns another
kind of schedule is wrapped in a :class:`ComposedScheduler`.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    'AbstractScheduler',
    'BaseScheduler',
    'ComposedScheduler',
    'Schedule',
    'TransformScheduler',
]

# Any callable with the scheduler signature can be wrapped, not only the
# classes of this module (structurally the same as SchedulerProtocol).
Schedule = Callable[[float, int], float]


@dataclasses.dataclass(frozen=True)
class AbstractScheduler(abc.ABC):
    """Base class of the learning-rate schedulers.

    Subclasses implement :meth:`_compute`; calling the scheduler checks the
    inputs first.
    """

    def __call__(self, base_lr: float, epoch: int) -> float:
        """Return the learning rate for an epoch.

        Args:
            base_lr: the initial learning rate, non-negative.
            epoch: the epoch (the first training epoch is 1), non-negative.

        Returns:
            The scheduled learning rate.

        Raises:
            ValueError: if base_lr or epoch is negative.
        """
        if base_lr < 0:
            msg = f'Expected a non-negative base_lr, got {base_lr!r}.'
            raise ValueError(msg)
        if epoch < 0:
            msg = f'Expected a non-negative epoch, got {epoch!r}.'
            raise ValueError(msg)
        return self._compute(base_lr, epoch)

    @property
    def base_scheduler_name(self) -> str:
        """The name of the schedule that the others transform."""
        wrapped = _wrapped(self)
        if wrapped is None:
            return type(self).__name__
        return _name_of(wrapped)

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameters of the schedule and of every transformation."""
        explicit = self.__dict__.get('_parameters')
        if isinstance(explicit, dict):
            return explicit
        result: dict[str, Any] = {}
        wrapped = _wrapped(self)
        if isinstance(wrapped, AbstractScheduler):
            result.update(wrapped.parameters)
        if dataclasses.is_dataclass(self):
            for field in dataclasses.fields(self):
                value = getattr(self, field.name)
                if value is not wrapped:
                    result[field.name] = value
        return result

    def bind(self, f: Callable[[Any], Any], /) -> ComposedScheduler:
        """Apply a transformation, like ``warmup(5)`` or ``restart(50)``.

        Args:
            f: a function from a schedule to a transformed schedule.

        Returns:
            The transformed schedule, a ComposedScheduler.

        Raises:
            TypeError: if f does not return a schedule.
        """
        result = f(self)
        if isinstance(result, ComposedScheduler) and (
            '_parameters' not in result.__dict__  # a dataclass wrapper
        ):
            return result
        if not callable(result):
            msg = f'Expected a schedule from {f!r}, got {result!r}.'
            raise TypeError(msg)
        parameters = dict(self.parameters)
        parameters.update(getattr(result, 'parameters', {}))
        return ComposedScheduler(self.base_scheduler_name, parameters, result)

    @abc.abstractmethod
    def _compute(self, base_lr: float, epoch: int) -> float:
        """Compute the learning rate from validated inputs."""


class ComposedScheduler(AbstractScheduler):
    """A schedule obtained by transforming another one.

    Built by :meth:`AbstractScheduler.bind`; the transformations of
    :mod:`drytorch.lib.schedulers` are composed schedulers too.
    """

    def __init__(
        self,
        base_scheduler: str,
        parameters: Mapping[str, Any],
        logic: Schedule,
    ) -> None:
        """Args:
        base_scheduler: the name of the first schedule.
        parameters: the parameters of every step.
        logic: the composed schedule.
        """  # noqa: D205
        if not callable(logic):
            msg = f'Expected a callable schedule, got {logic!r}.'
            raise TypeError(msg)
        # the base class is a frozen dataclass: these are no fields of it
        object.__setattr__(self, '_name', str(base_scheduler))
        object.__setattr__(self, '_parameters', dict(parameters))
        object.__setattr__(self, '_logic', logic)

    @property
    def base_scheduler_name(self) -> str:
        """The name of the first schedule."""
        name = self.__dict__.get('_name')
        return name if isinstance(name, str) else super().base_scheduler_name

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.base_scheduler_name})'

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self), self.base_scheduler_name))

    def _compute(self, base_lr: float, epoch: int) -> float:
        return float(self.__dict__['_logic'](base_lr, epoch))


class TransformScheduler(ComposedScheduler, abc.ABC):
    """A schedule that changes another one, its :attr:`logic`.

    Subclasses implement :meth:`_compute` with ``self.logic``. Written the
    0.1.0rc11 way, a subclass calls ``super().__init__(logic)`` and records
    its settings in ``self.parameters``.
    """

    def __init__(self, logic: Schedule) -> None:
        """Args:
        logic: the schedule to transform.
        """  # noqa: D205
        super().__init__(type(self).__name__, {}, logic)

    @property
    def logic(self) -> Schedule:
        """The schedule that this one transforms."""
        wrapped = _wrapped(self)
        if wrapped is not None:
            return wrapped
        return self.__dict__['_logic']  # type: ignore[no-any-return]

    @property
    def base_scheduler_name(self) -> str:
        """The name of the schedule that the others transform."""
        return _name_of(self.logic)

    @abc.abstractmethod
    def _compute(self, base_lr: float, epoch: int) -> float:
        """Compute the learning rate from validated inputs."""


@dataclasses.dataclass(frozen=True)
class BaseScheduler(AbstractScheduler, abc.ABC):
    """A schedule that computes the rate itself (not a transformation)."""


def _wrapped(scheduler: Any) -> Any:
    """The schedule a dataclass transformation wraps, if any."""
    return scheduler.__dict__.get('base_scheduler')


def _name_of(schedule: Any) -> str:
    if isinstance(schedule, AbstractScheduler):
        return schedule.base_scheduler_name
    owner = getattr(schedule, '__self__', None)  # a bound _compute
    if isinstance(owner, AbstractScheduler):
        return owner.base_scheduler_name
    return str(getattr(schedule, '__name__', type(schedule).__name__))
