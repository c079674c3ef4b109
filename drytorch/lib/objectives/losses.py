"""Concrete losses: a single function, or a function of several metrics."""

from __future__ import annotations

import operator
from collections.abc import Callable

import torch

from drytorch.lib.objectives.base import _Output, _Target
from drytorch.lib.objectives.combinations import _Criterion
from drytorch.lib.objectives.loss_base import _DEFAULT_LOSS_NAME, LossBase

__all__ = ['CompositionalLoss', 'Loss']


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
        """Return the loss value, then the metrics added with ``watch``.

        Args:
            outputs: the model's outputs.
            targets: the targets.
        """
        return self._evaluate(outputs, targets)[0]

    def _evaluate(
        self, outputs: _Output, targets: _Target
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        value = self.fun(outputs, targets)
        named_fn = self.named_fn
        if len(named_fn) == 1:  # the usual case: no watched metric
            return {self.name: value}, value
        values = {self.name: value}
        for name, fn in named_fn.items():
            if name != self.name:
                values[name] = fn(outputs, targets)
        return values, value
