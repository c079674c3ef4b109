"""The learning schema: how a model is optimized."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn

from drytorch.lib import gradient_ops, schedulers

__all__ = ['LearningSchema']

Schedule = Callable[[float, int], float]
GradientOp = Callable[[Iterable[nn.Parameter]], None]


def _is_positive_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return 0 < float(value) < math.inf


def _check_base_lr(base_lr: object) -> float | dict[str, float]:
    expected = (
        'Expected base_lr to be a positive number or a non-empty mapping '
        'from sub-module names to positive numbers'
    )
    if isinstance(base_lr, Mapping):
        valid = all(
            isinstance(key, str) and _is_positive_number(value)
            for key, value in base_lr.items()
        )
        if not base_lr or not valid:
            msg = f'{expected}, got {base_lr!r}.'
            raise ValueError(msg)
        return dict(base_lr)
    if isinstance(base_lr, bool) or not isinstance(base_lr, numbers.Real):
        msg = f'{expected}, got {base_lr!r}.'
        raise TypeError(msg)
    if not _is_positive_number(base_lr):
        msg = f'{expected}, got {base_lr!r}.'
        raise ValueError(msg)
    return float(base_lr) if not isinstance(base_lr, int) else base_lr


def _check_non_negative(name: str, value: object) -> None:
    is_number = isinstance(value, numbers.Real)
    if isinstance(value, bool) or not is_number:
        msg = f'Expected {name} to be a number, got {value!r}.'
        raise TypeError(msg)
    if not value >= 0:  # type: ignore[operator]
        msg = f'Expected {name} >= 0, got {value!r}.'
        raise ValueError(msg)


def _check_betas(betas: object) -> None:
    valid = (
        isinstance(betas, tuple | list)
        and len(betas) == 2
        and all(
            isinstance(beta, numbers.Real)
            and not isinstance(beta, bool)
            and 0 <= float(beta) < 1
            for beta in betas
        )
    )
    if not valid:
        msg = f'Expected betas to be two numbers in [0, 1), got {betas!r}.'
        raise ValueError(msg)


@dataclasses.dataclass(frozen=True)
class LearningSchema:
    """How to optimize a model.

    Instances are immutable; mappings given to the constructor are copied.
    Every schema gets its own default scheduler and gradient operation.

    Attributes:
        optimizer_cls: the torch optimizer class.
        base_lr: the initial learning rate, or a mapping from the names of
            the module's sub-module attributes to their initial rates.
        scheduler: gives the rate of each epoch from the base rate.
        optimizer_defaults: further keyword arguments of the optimizer.
        gradient_op: applied to the parameters between the backward pass
            and the optimizer step.
    """

    optimizer_cls: type[torch.optim.Optimizer]
    base_lr: float | dict[str, float]
    scheduler: Schedule = dataclasses.field(
        default_factory=schedulers.ConstantScheduler
    )
    optimizer_defaults: dict[str, Any] = dataclasses.field(
        default_factory=dict
    )
    gradient_op: GradientOp = dataclasses.field(
        default_factory=gradient_ops.NoOp
    )

    def __post_init__(self) -> None:
        """Validate the fields and copy the mappings.

        Raises:
            TypeError: if a field has the wrong type.
            ValueError: if base_lr is not positive or empty.
        """
        cls = self.optimizer_cls
        if not (
            isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
        ):
            msg = (
                'Expected optimizer_cls to be a subclass of '
                f'torch.optim.Optimizer, got {cls!r}.'
            )
            raise TypeError(msg)
        object.__setattr__(self, 'base_lr', _check_base_lr(self.base_lr))
        if not callable(self.scheduler):
            msg = (
                'Expected scheduler to be a callable (base_lr, epoch) -> lr, '
                f'got {self.scheduler!r}.'
            )
            raise TypeError(msg)
        defaults = self.optimizer_defaults
        if not isinstance(defaults, Mapping) or not all(
            isinstance(key, str) for key in defaults
        ):
            msg = (
                'Expected optimizer_defaults to be a mapping with string '
                f'keys, got {defaults!r}.'
            )
            raise TypeError(msg)
        object.__setattr__(self, 'optimizer_defaults', dict(defaults))
        if not callable(self.gradient_op):
            msg = (
                'Expected gradient_op to be a callable on the parameters, '
                f'got {self.gradient_op!r}.'
            )
            raise TypeError(msg)

    @classmethod
    def adam(
        cls,
        base_lr: float | dict[str, float] = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        scheduler: Schedule | None = None,
        gradient_op: GradientOp | None = None,
    ) -> LearningSchema:
        """Return a schema for torch.optim.Adam.

        Args:
            base_lr: the initial learning rate(s).
            betas: the coefficients of the running averages, in [0, 1).
            scheduler: default: a new ConstantScheduler().
            gradient_op: default: a new NoOp().

        Returns:
            The learning schema.
        """
        _check_betas(betas)
        return cls._build(
            torch.optim.Adam,
            base_lr,
            scheduler,
            {'betas': tuple(betas)},
            gradient_op,
        )

    @classmethod
    def adam_w(
        cls,
        base_lr: float | dict[str, float] = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 1e-2,
        scheduler: Schedule | None = None,
        gradient_op: GradientOp | None = None,
    ) -> LearningSchema:
        """Return a schema for torch.optim.AdamW.

        Args:
            base_lr: the initial learning rate(s).
            betas: the coefficients of the running averages, in [0, 1).
            weight_decay: the decoupled weight decay, non-negative.
            scheduler: default: a new ConstantScheduler().
            gradient_op: default: a new NoOp().

        Returns:
            The learning schema.
        """
        _check_betas(betas)
        _check_non_negative('weight_decay', weight_decay)
        defaults = {'betas': tuple(betas), 'weight_decay': weight_decay}
        return cls._build(
            torch.optim.AdamW, base_lr, scheduler, defaults, gradient_op
        )

    @classmethod
    def sgd(
        cls,
        base_lr: float | dict[str, float] = 0.01,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        scheduler: Schedule | None = None,
        gradient_op: GradientOp | None = None,
    ) -> LearningSchema:
        """Return a schema for torch.optim.SGD.

        Args:
            base_lr: the initial learning rate(s).
            momentum: the momentum factor, non-negative.
            weight_decay: the L2 penalty, non-negative.
            dampening: the dampening of the momentum, non-negative.
            nesterov: whether to use Nesterov momentum (torch needs a
                positive momentum and no dampening for it, and says so
                when the optimizer is built, as with 0.1.0rc5).
            scheduler: default: a new ConstantScheduler().
            gradient_op: default: a new NoOp().

        Returns:
            The learning schema.

        Raises:
            ValueError: if momentum, weight_decay or dampening is negative.
        """
        _check_non_negative('momentum', momentum)
        _check_non_negative('weight_decay', weight_decay)
        _check_non_negative('dampening', dampening)
        defaults = {
            'momentum': momentum,
            'weight_decay': weight_decay,
            'dampening': dampening,
            'nesterov': nesterov,
        }
        return cls._build(
            torch.optim.SGD, base_lr, scheduler, defaults, gradient_op
        )

    @classmethod
    def r_adam(
        cls,
        base_lr: float | dict[str, float] = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        scheduler: Schedule | None = None,
        gradient_op: GradientOp | None = None,
    ) -> LearningSchema:
        """Return a schema for torch.optim.RAdam.

        A non-zero weight decay is decoupled (as in AdamW).

        Args:
            base_lr: the initial learning rate(s).
            betas: the coefficients of the running averages, in [0, 1).
            weight_decay: the weight decay, non-negative.
            scheduler: default: a new ConstantScheduler().
            gradient_op: default: a new NoOp().

        Returns:
            The learning schema.
        """
        _check_betas(betas)
        _check_non_negative('weight_decay', weight_decay)
        defaults = {
            'betas': tuple(betas),
            'weight_decay': weight_decay,
            'decoupled_weight_decay': bool(weight_decay),
        }
        return cls._build(
            torch.optim.RAdam, base_lr, scheduler, defaults, gradient_op
        )

    @classmethod
    def _build(
        cls,
        optimizer_cls: type[torch.optim.Optimizer],
        base_lr: float | dict[str, float],
        scheduler: Schedule | None,
        optimizer_defaults: dict[str, Any],
        gradient_op: GradientOp | None,
    ) -> LearningSchema:
        if scheduler is None:
            scheduler = schedulers.ConstantScheduler()
        if gradient_op is None:
            gradient_op = gradient_ops.NoOp()
        return cls(
            optimizer_cls, base_lr, scheduler, optimizer_defaults, gradient_op
        )
