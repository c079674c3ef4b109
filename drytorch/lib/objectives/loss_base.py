"""The abstract loss and the arithmetic that combines losses.

Losses combine with arithmetic (``mse ** 2 + 0.5 * mae``) and with ``|``
(extra metrics to log). Combinations keep track of their name, of whether
higher values are better and of a formula that reads as the value is
computed.
"""

from __future__ import annotations

import abc
import operator
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch

from drytorch.lib.objectives.base import (
    MetricCollection,
    _merge_functions,
    _Output,
    _Target,
)
from drytorch.lib.objectives.combinations import (
    _ATOM,
    _POWER,
    _PRODUCT,
    _SUM,
    _UNARY,
    _BinaryCriterion,
    _Criterion,
    _direction,
    _embed,
    _embed_right,
    _is_number,
    _NegCriterion,
    _number,
    _parse_formula,
    _PowerCriterion,
    _ScalarCriterion,
)

if TYPE_CHECKING:
    from drytorch.lib.objectives.losses import CompositionalLoss

__all__ = ['LossBase']

_DEFAULT_COMBINED_NAME = 'Combined Loss'
_DEFAULT_LOSS_NAME = 'Loss'
# a formula that starts and ends with brackets is shown as it is, as in
# 0.1.0rc5 ('[A] + [B]', '(2 x [A]) x (3 x [B])'); nesting never relies on
# it, since operands are embedded by precedence
_FRAMED = frozenset({('[', ']'), ('(', ')')})


class LossBase(MetricCollection[_Output, _Target], metaclass=abc.ABCMeta):
    """Metrics plus a criterion that combines them into the loss.

    Arithmetic between losses and numbers gives a
    :class:`CompositionalLoss`:

    * ``a + b`` and ``a * b`` need losses optimised in the same direction
      (otherwise ``ValueError``); the result keeps it.
    * ``a - b`` and ``a / b`` are always allowed and keep the direction of
      the left operand: lowering ``a - b`` lowers ``a`` and raises ``b``,
      which is what one means when subtracting a loss.
    * ``-a``, multiplying by a negative number, ``c - a``, ``c / a`` and
      negative powers reverse the direction.
    * Adding 0, subtracting 0, and multiplying, dividing or raising to the
      power 1 return the loss itself.

    The formula of a combination is parenthesised by precedence, so
    ``(a + b) * 2`` reads ``2 x ([A] + [B])``; the factors of a product are
    parenthesised whenever they are combinations, and numbers are written
    in full, as drytorch 0.1.0rc5 wrote them: ``(2 * a) * (3 * b)`` reads
    ``(2 x [A]) x (3 x [B])`` and ``a / 3`` reads
    ``(0.3333333333333333 x [A])``.

    Attributes:
        criterion: function from the metric values to the loss values.
        name: the name of the loss.
        higher_is_better: whether higher values are better.
        formula: a readable description of the criterion.
    """

    def __init__(
        self,
        criterion: _Criterion,
        name: str,
        higher_is_better: bool = False,
        formula: str = '',
        **named_fn: Callable[[_Output, _Target], torch.Tensor],
    ) -> None:
        """Create the loss.

        Args:
            criterion: function from the metric values to the loss values.
            name: the name of the loss.
            higher_is_better: whether higher values are better.
            formula: a readable description of the criterion; defaults to
                ``[name]``.
            named_fn: the functions computing the metrics.
        """
        super().__init__(**named_fn)
        self.criterion = criterion
        self.name = name
        self.higher_is_better = higher_is_better
        if formula:
            self._expr, self._prec = _parse_formula(formula)
        else:
            self._expr, self._prec = f'[{name}]', _ATOM

    @property
    def formula(self) -> str:
        """A readable description of how the loss is computed."""
        expr = self._expr
        if self._prec == _ATOM or (expr[:1], expr[-1:]) in _FRAMED:
            return expr
        return f'({expr})'

    @abc.abstractmethod
    def calculate(
        self, outputs: _Output, targets: _Target
    ) -> dict[str, torch.Tensor]:
        """Return the loss and metric values, the loss first.

        Args:
            outputs: the model's outputs.
            targets: the targets.
        """

    def _evaluate(
        self, outputs: _Output, targets: _Target
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Return the values to log and the loss values.

        Subclasses override it to avoid applying the criterion twice.
        """
        values = self.calculate(outputs, targets)
        return values, self.criterion(values)

    def forward(self, outputs: _Output, targets: _Target) -> torch.Tensor:
        """Add a batch to the state and return the loss to optimise.

        Args:
            outputs: the model's outputs.
            targets: the targets.

        Returns:
            The mean of the criterion's values, a scalar tensor.
        """
        values, loss = self._evaluate(outputs, targets)
        self._averager += values
        if loss.ndim == 0:
            # already a mean: mean() would add a node to the graph, paid
            # in the forward and in the backward pass of every batch
            return loss
        return loss.mean()

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.formula})'

    # combinations

    def _build(
        self,
        criterion: _Criterion,
        *,
        name: str,
        higher_is_better: bool,
        expr: str,
        prec: int,
        named_fn: Mapping[str, Callable[[_Output, _Target], torch.Tensor]],
    ) -> CompositionalLoss[_Output, _Target]:
        # imported here: CompositionalLoss derives from LossBase
        from drytorch.lib.objectives.losses import CompositionalLoss

        loss: CompositionalLoss[_Output, _Target]
        loss = CompositionalLoss(criterion, higher_is_better=higher_is_better)
        # set afterwards: a metric may be called e.g. 'name' or 'formula'
        loss.named_fn = dict(named_fn)
        loss.name = name
        loss._expr = expr
        loss._prec = prec
        return loss

    def _combine(
        self,
        other: LossBase[_Output, _Target],
        op: Callable[[Any, Any], Any],
        symbol: str,
        right_prec: int,
        higher_is_better: bool,
    ) -> CompositionalLoss[_Output, _Target]:
        left_prec = _SUM if op in (operator.add, operator.sub) else _PRODUCT
        if op is operator.mul:  # every combined factor in parentheses
            left_prec = right_prec = _ATOM
        expr = (
            f'{_embed(self, left_prec)} {symbol} '
            f'{_embed_right(other, right_prec)}'
        )
        return self._build(
            _BinaryCriterion(op, self.criterion, other.criterion),
            name=_DEFAULT_COMBINED_NAME,
            higher_is_better=higher_is_better,
            expr=expr,
            prec=_SUM if op in (operator.add, operator.sub) else _PRODUCT,
            named_fn=_merge_functions(self, other),
        )

    def _same_direction(self, other: LossBase[Any, Any], verb: str) -> bool:
        if self.higher_is_better != other.higher_is_better:
            msg = (
                f'Cannot {verb} {self!r} ({_direction(self)}) and {other!r} '
                f'({_direction(other)}): expected losses optimised in the '
                'same direction. Use subtraction or division, or negate one '
                'of them first.'
            )
            raise ValueError(msg)
        return self.higher_is_better

    def _shift(self, constant: float) -> LossBase[_Output, _Target]:
        if constant == 0:
            return self
        return self._build(
            _ScalarCriterion(operator.add, self.criterion, constant),
            name=_DEFAULT_COMBINED_NAME,
            higher_is_better=self.higher_is_better,
            expr=f'{_number(constant)} + {_embed_right(self, _SUM)}',
            prec=_SUM,
            named_fn=self.named_fn,
        )

    def _scale(self, factor: float) -> LossBase[_Output, _Target]:
        if factor == 1:
            return self
        return self._build(
            _ScalarCriterion(operator.mul, self.criterion, factor),
            name=_DEFAULT_COMBINED_NAME,
            higher_is_better=self.higher_is_better != (factor < 0),
            expr=f'{_number(factor)} x {_embed_right(self, _ATOM)}',
            prec=_PRODUCT,
            named_fn=self.named_fn,
        )

    def __add__(self, other: Any) -> LossBase[_Output, _Target]:
        """Sum with a loss optimised in the same direction or a number."""
        if isinstance(other, LossBase):
            direction = self._same_direction(other, 'add')
            return self._combine(other, operator.add, '+', _SUM, direction)
        if _is_number(other):
            return self._shift(other)
        return NotImplemented

    def __radd__(self, other: Any) -> LossBase[_Output, _Target]:
        """Sum with a number on the left."""
        if _is_number(other):
            return self._shift(other)
        return NotImplemented

    def __sub__(self, other: Any) -> LossBase[_Output, _Target]:
        """Difference; the direction is the left operand's."""
        if isinstance(other, LossBase):
            return self._combine(
                other, operator.sub, '-', _PRODUCT, self.higher_is_better
            )
        if _is_number(other):
            return self._shift(-other)
        return NotImplemented

    def __rsub__(self, other: Any) -> LossBase[_Output, _Target]:
        """Subtract the loss from a number; the direction is reversed."""
        if not _is_number(other):
            return NotImplemented
        if other == 0:
            return -self
        return self._build(
            _ScalarCriterion(operator.sub, self.criterion, other, True),
            name=_DEFAULT_COMBINED_NAME,
            higher_is_better=not self.higher_is_better,
            expr=f'{_number(other)} - {_embed_right(self, _PRODUCT)}',
            prec=_SUM,
            named_fn=self.named_fn,
        )

    def __mul__(self, other: Any) -> LossBase[_Output, _Target]:
        """Product with a loss optimised in the same direction or a number."""
        if isinstance(other, LossBase):
            direction = self._same_direction(other, 'multiply')
            return self._combine(other, operator.mul, 'x', _PRODUCT, direction)
        if _is_number(other):
            return self._scale(other)
        return NotImplemented

    def __rmul__(self, other: Any) -> LossBase[_Output, _Target]:
        """Product with a number on the left."""
        if _is_number(other):
            return self._scale(other)
        return NotImplemented

    def __truediv__(self, other: Any) -> LossBase[_Output, _Target]:
        """Ratio; the direction is the left operand's."""
        if isinstance(other, LossBase):
            return self._combine(
                other, operator.truediv, '/', _POWER, self.higher_is_better
            )
        if _is_number(other):
            return self._scale(1 / other)
        return NotImplemented

    def __rtruediv__(self, other: Any) -> LossBase[_Output, _Target]:
        """Divide a number by the loss; a positive one reverses direction."""
        if not _is_number(other):
            return NotImplemented
        if other == 1:
            return self**-1
        return self._build(
            _ScalarCriterion(operator.truediv, self.criterion, other, True),
            name=_DEFAULT_COMBINED_NAME,
            higher_is_better=self.higher_is_better == (other < 0),
            expr=f'{_number(other)} / {_embed_right(self, _POWER)}',
            prec=_PRODUCT,
            named_fn=self.named_fn,
        )

    def __pow__(self, exponent: Any) -> LossBase[_Output, _Target]:
        """Power; a negative exponent reverses the direction."""
        if not _is_number(exponent):
            return NotImplemented
        if exponent == 1:
            return self
        if exponent >= 0:
            expr = f'{_embed_right(self, _ATOM)}^{_number(exponent)}'
            prec = _POWER
        elif exponent == -1:
            expr = f'1 / {_embed_right(self, _POWER)}'
            prec = _PRODUCT
        else:
            base = _embed_right(self, _ATOM)
            expr = f'1 / {base}^{_number(-exponent)}'
            prec = _PRODUCT
        return self._build(
            _PowerCriterion(self.criterion, exponent),
            name=_DEFAULT_LOSS_NAME,
            higher_is_better=self.higher_is_better != (exponent < 0),
            expr=expr,
            prec=prec,
            named_fn=self.named_fn,
        )

    def __neg__(self) -> LossBase[_Output, _Target]:
        """Negation; the direction is reversed."""
        return self._build(
            _NegCriterion(self.criterion),
            name=f'Negative {self.name}',
            higher_is_better=not self.higher_is_better,
            expr=f'-{_embed_right(self, _POWER)}',
            prec=_UNARY,
            named_fn=self.named_fn,
        )

    def watch(self, metric: MetricCollection[_Output, _Target]) -> None:
        """Log the metrics of ``metric`` with this loss too (in place).

        The 0.1.0rc11 spelling of ``loss | metric``, which returns a new
        loss instead. Call it before the first update: the state accepts
        only the names of its first update.

        Args:
            metric: the metrics to add.

        Raises:
            TypeError: if metric is not a MetricCollection (join other
                objectives with :class:`JoinLossMetrics`).
            ValueError: if two different functions would share a name.
        """
        if not isinstance(metric, MetricCollection):
            msg = (
                'Expected a MetricCollection, got '
                f'{type(metric).__name__}; use JoinLossMetrics for other '
                'objectives.'
            )
            raise TypeError(msg)
        self.named_fn = _merge_functions(self, metric)

    def __or__(self, other: Any) -> CompositionalLoss[_Output, _Target]:
        """Return this loss with the metrics of ``other`` logged too."""
        if not isinstance(other, MetricCollection):
            return NotImplemented
        return self._build(
            self.criterion,
            name=self.name,
            higher_is_better=self.higher_is_better,
            expr=self._expr,
            prec=self._prec,
            named_fn=_merge_functions(self, other),
        )

    def __ror__(self, other: Any) -> CompositionalLoss[_Output, _Target]:
        """``metrics | loss``: this loss with the metrics logged too."""
        return self.__or__(other)
