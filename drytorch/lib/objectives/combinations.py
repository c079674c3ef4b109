"""Building blocks of loss combinations: criteria and formulas.

A combination of losses computes its value with a criterion, a small
picklable callable from the metric values to the loss values, and
describes it with a formula whose operands are parenthesised by
precedence.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from drytorch.lib.objectives.loss_base import LossBase

__all__: list[str] = []

_Values = Mapping[str, torch.Tensor]
_Criterion = Callable[[_Values], torch.Tensor]

# Precedence of the outermost operation of a formula, from loosest to
# tightest; an operand is parenthesised when it binds more loosely than its
# position requires.
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = range(1, 6)


# criteria: small picklable callables rather than closures


class _BinaryCriterion:
    """``op(left(values), right(values))``."""

    def __init__(
        self,
        op: Callable[[Any, Any], Any],
        left: _Criterion,
        right: _Criterion,
    ) -> None:
        self.op = op
        self.left = left
        self.right = right

    def __call__(self, values: _Values) -> torch.Tensor:
        return self.op(self.left(values), self.right(values))


class _ScalarCriterion:
    """``op(criterion(values), constant)``, or reflected."""

    def __init__(
        self,
        op: Callable[[Any, Any], Any],
        criterion: _Criterion,
        constant: float,
        reflected: bool = False,
    ) -> None:
        self.op = op
        self.criterion = criterion
        self.constant = constant
        self.reflected = reflected

    def __call__(self, values: _Values) -> torch.Tensor:
        if self.reflected:
            return self.op(self.constant, self.criterion(values))
        return self.op(self.criterion(values), self.constant)


class _NegCriterion:
    """``-criterion(values)``."""

    def __init__(self, criterion: _Criterion) -> None:
        self.criterion = criterion

    def __call__(self, values: _Values) -> torch.Tensor:
        return -self.criterion(values)


class _PowerCriterion:
    """``criterion(values) ** exponent``, computed in floating point."""

    def __init__(self, criterion: _Criterion, exponent: float) -> None:
        self.criterion = criterion
        self.exponent = exponent

    def __call__(self, values: _Values) -> torch.Tensor:
        value = self.criterion(values)
        if not value.is_floating_point():
            value = value.float()
        return value**self.exponent


# formulas


def _embed(loss: LossBase[Any, Any], min_prec: int) -> str:
    if loss._prec < min_prec:
        return f'({loss._expr})'
    return loss._expr


def _embed_right(loss: LossBase[Any, Any], min_prec: int) -> str:
    # a negation after an operator reads badly (``a + -b``): parenthesise it
    if loss._prec == _UNARY:
        return f'({loss._expr})'
    return _embed(loss, min_prec)


def _parse_formula(formula: str) -> tuple[str, int]:
    """Normalise a user's formula and guess its precedence."""
    formula = formula.replace('--', '').replace('+ -', '- ')
    if _is_enclosed(formula, '(', ')') or (
        _is_enclosed(formula, '[', ']') and formula.count('[') == 1
    ):
        return formula, _ATOM
    return formula, _SUM


def _is_enclosed(text: str, opening: str, closing: str) -> bool:
    """Whether the first character's bracket closes at the last one."""
    if len(text) < 2 or text[0] != opening or text[-1] != closing:
        return False
    depth = 0
    for index, char in enumerate(text):
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0 and index < len(text) - 1:
                return False
    return depth == 0


def _number(value: float) -> str:
    # written in full, as 0.1.0rc5 did: a formula must not round its factors
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _direction(loss: LossBase[Any, Any]) -> str:
    return 'higher is better' if loss.higher_is_better else 'lower is better'
