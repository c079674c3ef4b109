"""Objectives joined into one, whatever their kind (0.1.0rc11's names).

``|`` joins the metrics of a :class:`MetricCollection` into a new
collection, and :meth:`LossBase.watch` adds them to a loss. Objectives of
other kinds (a torchmetrics or torcheval wrapper, a hand-written class with
``update``, ``compute`` and ``reset``) keep their own state:
:class:`JoinMetrics` updates, computes, resets and synchronizes both, and
:class:`JoinLossMetrics` adds one to a loss, so that a trainer logs it
beside the loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic

import torch

from drytorch.lib.objectives.base import _Output, _Target

if TYPE_CHECKING:
    from drytorch.lib.objectives.loss_base import LossBase

__all__ = ['JoinLossMetrics', 'JoinMetrics']


def _named(objective: Any, computed: Any) -> dict[str, Any]:
    """compute()'s result as a dict (a tensor under the objective's name)."""
    if computed is None:
        return {}
    if isinstance(computed, Mapping):
        return dict(computed)
    name = getattr(objective, 'name', None)
    if not isinstance(name, str) or not name:
        name = type(objective).__name__
    return {name: computed}


def _check_objective(role: str, objective: Any) -> None:
    missing = [
        method
        for method in ('update', 'compute', 'reset')
        if not callable(getattr(objective, method, None))
    ]
    if missing:
        msg = (
            f'Expected the {role} to have update, compute and reset '
            f'methods; {type(objective).__name__} lacks {", ".join(missing)}.'
        )
        raise TypeError(msg)


class JoinMetrics(Generic[_Output, _Target]):
    """Two objectives updated, computed, reset and synchronized together.

    Attributes:
        metric_a: the first objective.
        metric_b: the second objective; its values win on a shared name.
    """

    def __init__(self, metric_a: Any, metric_b: Any, /) -> None:
        """Join two objectives.

        Args:
            metric_a: the first objective.
            metric_b: the second objective.

        Raises:
            TypeError: if either lacks update, compute or reset.
        """
        _check_objective('first objective', metric_a)
        _check_objective('second objective', metric_b)
        self.metric_a = metric_a
        self.metric_b = metric_b

    def update(self, outputs: _Output, targets: _Target, /) -> dict[str, Any]:
        """Add a batch to both states; return both batch values."""
        first = self.metric_a.update(outputs, targets)
        second = self.metric_b.update(outputs, targets)
        values = dict(first) if isinstance(first, Mapping) else {}
        if isinstance(second, Mapping):
            values.update(second)
        return values

    def compute(self) -> dict[str, Any]:
        """The values of both objectives, by name."""
        values = _named(self.metric_a, self.metric_a.compute())
        values.update(_named(self.metric_b, self.metric_b.compute()))
        return values

    def reset(self) -> None:
        """Forget the state of both objectives."""
        self.metric_a.reset()
        self.metric_b.reset()

    def sync(self) -> None:
        """Synchronize the objectives that can be synchronized."""
        for objective in (self.metric_a, self.metric_b):
            sync = getattr(objective, 'sync', None)
            if callable(sync):
                sync()

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.metric_a!r}, {self.metric_b!r})'


class JoinLossMetrics(JoinMetrics[_Output, _Target]):
    """A loss, and an objective logged beside it.

    The loss is what is optimized (:meth:`forward`); the objective is
    updated with the same batches, outside the autograd graph.

    Attributes:
        loss: the loss.
        objective: the objective logged beside it.
        name: the loss's name.
        higher_is_better: the loss's direction.
    """

    def __init__(
        self, loss: LossBase[_Output, _Target], objective: Any, /
    ) -> None:
        """Join a loss and an objective.

        Args:
            loss: the loss to optimize.
            objective: the objective to log beside it.

        Raises:
            TypeError: if loss has no forward method, or either lacks
                update, compute or reset.
        """
        if not callable(getattr(loss, 'forward', None)):
            msg = f'Expected a loss with forward(), got {type(loss).__name__}.'
            raise TypeError(msg)
        super().__init__(loss, objective)
        self.loss = loss
        self.objective = objective
        self.name: str = loss.name
        self.higher_is_better: bool = loss.higher_is_better

    def forward(self, outputs: _Output, targets: _Target, /) -> torch.Tensor:
        """Add a batch to both states; return the loss to optimize."""
        with torch.no_grad():
            self.objective.update(outputs, targets)
        return self.loss.forward(outputs, targets)
