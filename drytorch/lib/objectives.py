"""Metrics and losses: named tensors averaged over an epoch.

An :class:`Objective` turns a batch's ``(outputs, targets)`` into named
tensors and accumulates them on the device. Per batch nothing leaves the
device: :meth:`Objective.update` and :meth:`LossBase.forward` return
tensors, and only :func:`compute_metrics` (once per epoch) moves the
averages to the host, with a single transfer.

A value may be a scalar (one sample) or a per-sample vector (one sample per
element): vectors give the exact per-sample mean across batches of
different sizes, scalars give the mean of the batch means.

Losses combine with arithmetic (``mse ** 2 + 0.5 * mae``) and with ``|``
(extra metrics to log). Combinations keep track of their name, of whether
higher values are better and of a formula that reads as the value is
computed.
"""

from __future__ import annotations

import abc
import copy
import itertools
import math
import numbers
import operator
import warnings
from collections.abc import Callable, Mapping, MutableSequence, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import torch

from drytorch.core import exceptions
from drytorch.utils.average import TorchAverager

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    'CompositionalLoss',
    'Loss',
    'LossBase',
    'Metric',
    'MetricCollection',
    'MetricTracker',
    'Objective',
    'check_device',
    'compute_metrics',
    'dict_apply',
]

_Output = TypeVar('_Output')
_Target = TypeVar('_Target')

_Values = Mapping[str, torch.Tensor]
_Criterion = Callable[[_Values], torch.Tensor]

_DEFAULT_COMBINED_NAME = 'Combined Loss'
_DEFAULT_LOSS_NAME = 'Loss'

# Precedence of the outermost operation of a formula, from loosest to
# tightest; an operand is parenthesised when it binds more loosely than its
# position requires.
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = range(1, 6)


def dict_apply(
    dict_fn: Mapping[str, Callable[[_Output, _Target], torch.Tensor]],
    outputs: _Output,
    targets: _Target,
) -> dict[str, torch.Tensor]:
    """Apply every function to the outputs and targets.

    Args:
        dict_fn: functions by name.
        outputs: the model's outputs.
        targets: the targets.

    Returns:
        The value of every function, by name.
    """
    return {name: fn(outputs, targets) for name, fn in dict_fn.items()}


def check_device(calculator: Any, device: torch.device | str) -> None:
    """Check that a metric object lives on the same kind of device.

    The device of the calculator is its ``device`` attribute (torchmetrics
    objects), else the device of its first parameter or buffer (modules).
    For a :class:`MetricCollection`, the functions that are modules are
    checked. Objects without a device are accepted.

    Args:
        calculator: the metric or loss object.
        device: the device of the model's outputs.

    Raises:
        DeviceMismatchError: if the device types differ.
    """
    target = torch.device(device)
    name = getattr(calculator, 'name', None) or type(calculator).__name__
    candidates: list[Any] = [calculator]
    if isinstance(calculator, MetricCollection):
        candidates.extend(calculator.named_fn.values())
    for candidate in candidates:
        metric_device = _device_of(candidate)
        if metric_device is not None and metric_device.type != target.type:
            raise exceptions.DeviceMismatchError(
                str(name), metric_device, target
            )


def _device_of(obj: Any) -> torch.device | None:
    device = getattr(obj, 'device', None)
    if isinstance(device, torch.device):
        return device
    if isinstance(obj, torch.nn.Module):
        tensors = itertools.chain(obj.parameters(), obj.buffers())
        first = next(tensors, None)
        if first is not None:
            return first.device
    return None


def compute_metrics(calculator: Any) -> dict[str, float]:
    """Compute a metric object's values as Python floats.

    The values are moved to the host with one transfer per device (one in
    the usual case), not one per metric.

    Args:
        calculator: an object with a ``compute()`` method returning a
            mapping of scalar tensors, a scalar tensor (reported under the
            calculator's class name) or None (nothing to report).

    Returns:
        The values by name.

    Raises:
        ComputedMetricsTypeError: if compute() returns another type.
        ValueError: if a value has more than one element.
    """
    computed = calculator.compute()
    if computed is None:
        return {}
    if isinstance(computed, torch.Tensor):
        computed = {type(calculator).__name__: computed}
    elif not isinstance(computed, Mapping):
        raise exceptions.ComputedMetricsTypeError(type(computed).__name__)
    results: dict[str, float] = {}
    by_device: dict[torch.device, list[tuple[str, torch.Tensor]]] = {}
    for name, value in computed.items():
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                msg = (
                    f'Expected metric {name!r} to be a scalar, got a tensor '
                    f'of shape {tuple(value.shape)}.'
                )
                raise ValueError(msg)
            by_device.setdefault(value.device, []).append((name, value))
        else:
            results[name] = float(value)
    for items in by_device.values():
        stacked = torch.stack([v.detach().reshape(()) for _, v in items])
        for (name, _), number in zip(items, stacked.tolist(), strict=True):
            results[name] = float(number)
    # keep the order of compute()
    return {name: results[name] for name in computed}


class Objective(Generic[_Output, _Target], metaclass=abc.ABCMeta):
    """Named tensors computed per batch and averaged over an epoch.

    Subclasses implement :meth:`calculate`. The state is a
    :class:`~drytorch.utils.average.TorchAverager`; the keys returned by the
    first update are the only ones accepted afterwards.
    """

    def __init__(self) -> None:
        """Create the objective with an empty state."""
        self._averager = TorchAverager()

    @abc.abstractmethod
    def calculate(
        self, outputs: _Output, targets: _Target
    ) -> Mapping[str, torch.Tensor]:
        """Return the batch's values by name.

        Args:
            outputs: the model's outputs.
            targets: the targets.
        """

    def update(
        self, outputs: _Output, targets: _Target
    ) -> Mapping[str, torch.Tensor]:
        """Add a batch to the state and return its values.

        Args:
            outputs: the model's outputs.
            targets: the targets.

        Returns:
            The batch's values, as tensors on their device.
        """
        values = self.calculate(outputs, targets)
        self._averager += values
        return values

    def compute(self) -> dict[str, torch.Tensor]:
        """Return the averages since the last reset.

        Returns:
            The averages by name (0-d tensors), or ``{}`` before any update
            (with a ComputedBeforeUpdatedWarning).
        """
        if not self._averager:
            warnings.warn(
                exceptions.ComputedBeforeUpdatedWarning(self), stacklevel=2
            )
            return {}
        return self._averager.reduce()

    def reset(self) -> None:
        """Forget the accumulated values."""
        self._averager.clear()

    def copy(self) -> Self:
        """Return a deep copy, state included."""
        return copy.deepcopy(self)

    def merge_state(self, other: Objective[Any, Any]) -> None:
        """Add the state of another objective to this one.

        Args:
            other: an objective computing the same keys.
        """
        if not isinstance(other, Objective):
            msg = f'Expected an Objective, got {type(other).__name__}.'
            raise TypeError(msg)
        self._averager += other._averager

    def sync(self) -> None:
        """Combine the state of every process.

        With ``torch.distributed`` initialized, sums and counts are
        all-reduced, and :meth:`compute` returns the global averages until
        the next update; otherwise nothing changes.
        """
        self._averager.all_reduce()

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'


class MetricCollection(Objective[_Output, _Target]):
    """Metrics computed by named functions of (outputs, targets).

    Attributes:
        named_fn: the functions by name.
    """

    def __init__(
        self, **named_fn: Callable[[_Output, _Target], torch.Tensor]
    ) -> None:
        """Create the collection.

        Args:
            named_fn: functions returning a scalar or a per-sample tensor.
        """
        super().__init__()
        for name, fn in named_fn.items():
            if not callable(fn):
                msg = (
                    f'Expected a callable for metric {name!r}, got '
                    f'{type(fn).__name__}.'
                )
                raise TypeError(msg)
        self.named_fn: dict[str, Callable[[_Output, _Target], torch.Tensor]]
        self.named_fn = dict(named_fn)

    def calculate(
        self, outputs: _Output, targets: _Target
    ) -> dict[str, torch.Tensor]:
        """Apply every function.

        Args:
            outputs: the model's outputs.
            targets: the targets.

        Returns:
            The value of every function, by name.
        """
        return {
            name: fn(outputs, targets) for name, fn in self.named_fn.items()
        }

    def __or__(
        self, other: MetricCollection[_Output, _Target]
    ) -> MetricCollection[_Output, _Target]:
        """Return a new collection with the functions of both.

        The states are not merged. A loss on the right gives a
        CompositionalLoss (see :meth:`LossBase.__ror__`).
        """
        if isinstance(other, LossBase) or not isinstance(
            other, MetricCollection
        ):
            return NotImplemented
        return MetricCollection(**_merge_functions(self, other))

    def __repr__(self) -> str:
        return f'{type(self).__name__}({", ".join(self.named_fn)})'


class Metric(MetricCollection[_Output, _Target]):
    """A single named metric.

    Attributes:
        fun: the function computing the metric.
        name: the metric's name.
        higher_is_better: whether higher values are better (None: unknown).
    """

    def __init__(
        self,
        fn: Callable[[_Output, _Target], torch.Tensor],
        /,
        name: str,
        higher_is_better: bool | None = None,
    ) -> None:
        """Create the metric.

        Args:
            fn: function of (outputs, targets) returning a scalar or a
                per-sample tensor.
            name: the metric's name.
            higher_is_better: whether higher values are better.
        """
        super().__init__(**{name: fn})
        self.fun = fn
        self.name = name
        self.higher_is_better = higher_is_better


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
    ``(a + b) * 2`` reads ``2 x ([A] + [B])``.

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
        if self._prec == _ATOM or (expr[:1] == '[' and expr[-1:] == ']'):
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
            expr=f'{_number(factor)} x {_embed_right(self, _PRODUCT)}',
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


class CompositionalLoss(LossBase[_Output, _Target]):
    """A loss whose value is a function of several metrics.

    :meth:`calculate` returns the combined value under the loss's name,
    first, then every metric. The criterion is applied to per-sample values
    before averaging, so the reported value of a non-linear formula is the
    mean of the per-sample values. If a metric has the loss's name, the
    combined value is the one reported.
    """

    def __init__(
        self,
        criterion: _Criterion,
        *,
        name: str = _DEFAULT_LOSS_NAME,
        higher_is_better: bool,
        formula: str = '',
        **named_fn: Callable[[_Output, _Target], torch.Tensor],
    ) -> None:
        """Create the loss.

        Args:
            criterion: function from the metric values to the loss values.
            name: the name of the loss.
            higher_is_better: whether higher values are better.
            formula: a readable description of the criterion; ``--`` is
                removed and ``+ -`` shown as ``- ``.
            named_fn: the functions computing the metrics.
        """
        super().__init__(
            criterion, name, higher_is_better, formula, **named_fn
        )

    def calculate(
        self, outputs: _Output, targets: _Target
    ) -> dict[str, torch.Tensor]:
        """Return the combined value, then every metric.

        Args:
            outputs: the model's outputs.
            targets: the targets.
        """
        return self._evaluate(outputs, targets)[0]

    def _evaluate(
        self, outputs: _Output, targets: _Target
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        values = {
            name: fn(outputs, targets) for name, fn in self.named_fn.items()
        }
        combined = self.criterion(values)
        name = self.name
        logged = {name: combined, **values}
        if name in values:
            logged[name] = combined
        return logged, combined


class Loss(LossBase[_Output, _Target]):
    """A loss computed by a single function."""

    def __init__(
        self,
        fn: Callable[[_Output, _Target], torch.Tensor],
        /,
        name: str,
        higher_is_better: bool = False,
    ) -> None:
        """Create the loss.

        Args:
            fn: function of (outputs, targets) returning a scalar or a
                per-sample tensor.
            name: the name of the loss.
            higher_is_better: whether higher values are better.
        """
        super().__init__(
            operator.itemgetter(name),
            name,
            higher_is_better,
            '',
            **{name: fn},
        )
        self.fun = fn

    def calculate(
        self, outputs: _Output, targets: _Target
    ) -> dict[str, torch.Tensor]:
        """Return the loss value under the loss's name.

        Args:
            outputs: the model's outputs.
            targets: the targets.
        """
        return {self.name: self.fun(outputs, targets)}

    def _evaluate(
        self, outputs: _Output, targets: _Target
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        value = self.fun(outputs, targets)
        return {self.name: value}, value


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
    if isinstance(value, int):
        return str(value)
    return f'{value:g}'


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _direction(loss: LossBase[Any, Any]) -> str:
    return 'higher is better' if loss.higher_is_better else 'lower is better'


def _merge_functions(
    first: MetricCollection[Any, Any], second: MetricCollection[Any, Any]
) -> dict[str, Callable[[Any, Any], torch.Tensor]]:
    merged = dict(first.named_fn)
    for name, fn in second.named_fn.items():
        if name in merged and merged[name] is not fn:
            msg = (
                f'Expected one function per metric name, got two different '
                f'functions named {name!r} ({merged[name]!r} and {fn!r}).'
            )
            raise ValueError(msg)
        merged[name] = fn
    return merged


# monitoring


class MetricTracker:
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
