"""Torchmetrics metrics as drytorch losses and metrics.

Needs the ``torchmetrics`` extra (``pip install 'drytorch[torchmetrics]'``).

A torchmetrics ``Metric`` already has ``update``, ``compute``, ``reset``
and ``forward`` and can be given to a Trainer or a Validation as it is; its
values are then logged under its class name. :func:`from_torchmetrics`
wraps it so that:

* a composition (``1 + MeanSquaredError()``) reports its total and each
  metric it is made of: ``{'Combined Loss': 5., 'MeanSquaredError': 4.}``;
* torchmetrics does not synchronize processes by itself (at every
  ``compute``, including the progress updates): the runner calls
  :meth:`TorchMetricsWrapper.sync` once, at the end of each pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import torch

try:
    from torchmetrics import Metric
    from torchmetrics.metric import CompositionalMetric
except ImportError as _error:
    _msg = (
        "drytorch.contrib.torchmetrics needs the 'torchmetrics' extra: "
        "pip install 'drytorch[torchmetrics]'"
    )
    raise ImportError(_msg, name='torchmetrics') from _error

__all__ = ['TorchMetricsWrapper', 'from_torchmetrics']

_COMBINED_NAME = 'Combined Loss'


def _distributed() -> bool:
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized()


def _disable_auto_sync(metric: Metric) -> None:
    for node in metric.modules():
        if isinstance(node, Metric):
            node.dist_sync_on_step = False
            node.sync_on_compute = False
            # torchmetrics copies sync_on_compute here when it is built
            node._to_sync = False
            # a value cached before sync() would hide the synced state
            node.compute_with_cache = False


def _leaves(metric: Metric) -> list[Metric]:
    """The metrics a composition is made of, each once, in order."""
    found: dict[int, Metric] = {}

    def visit(node: Metric) -> None:
        if isinstance(node, CompositionalMetric):
            for operand in (node.metric_a, node.metric_b):
                if isinstance(operand, Metric):
                    visit(operand)
        else:
            found.setdefault(id(node), node)

    visit(metric)
    return list(found.values())


def _leaf_names(leaves: list[Metric]) -> list[str]:
    """Class names, with a suffix from the second of a class on."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for leaf in leaves:
        base = leaf._get_name()
        count = seen.get(base, 0)
        seen[base] = count + 1
        names.append(f'{base}_{count}' if count else base)
    return names


def _evaluate(node: Any, computed: Mapping[int, Any]) -> Any:
    """A composition's value from its leaves' values (as its compute)."""
    if not isinstance(node, Metric):
        return node  # a constant operand
    if not isinstance(node, CompositionalMetric):
        return computed[id(node)]
    value_a = _evaluate(node.metric_a, computed)
    value_b = _evaluate(node.metric_b, computed)
    if value_b is None:
        return node.op(value_a)
    return node.op(value_a, value_b)


class TorchMetricsWrapper:
    """A torchmetrics metric with drytorch's naming and synchronization.

    Attributes:
        metric: the torchmetrics metric (its auto-sync turned off).
        name: ``'Combined Loss'`` for a composition, else the metric's
            class name; the values of the metric are logged under it.
        higher_is_better: the metric's; for a composition whose direction
            torchmetrics leaves unknown, False (a combination of metrics
            is built to be minimised).
    """

    def __init__(self, metric: Metric) -> None:
        """Args:
            metric: the torchmetrics metric; it is changed in place so
                that it no longer synchronizes processes by itself.

        Raises:
            TypeError: if metric is not a torchmetrics Metric.
        """  # noqa: D205
        if not isinstance(metric, Metric):
            msg = (
                f'Expected a torchmetrics Metric, got {type(metric).__name__}.'
            )
            raise TypeError(msg)
        _disable_auto_sync(metric)
        self.metric = metric
        compositional = isinstance(metric, CompositionalMetric)
        self._compositional = compositional
        self.name = _COMBINED_NAME if compositional else metric._get_name()
        higher_is_better = metric.higher_is_better
        if higher_is_better is None and compositional:
            higher_is_better = False
        self.higher_is_better: bool | None = higher_is_better
        self._synced: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.name})'

    @property
    def device(self) -> torch.device:
        """Where the metric's state lives."""
        return self.metric.device

    def to(self, device: torch.device | str) -> TorchMetricsWrapper:
        """Move the metric's state to a device; return self."""
        self.metric.to(device)
        return self

    def update(self, outputs: Any, targets: Any, /) -> None:
        """Add a batch to the state."""
        self._synced = None
        self.metric.update(outputs, targets)

    def forward(self, outputs: Any, targets: Any, /) -> torch.Tensor:
        """Add a batch to the state and return its (combined) value.

        Returns:
            The batch's value, a tensor on the device (differentiable).
        """
        self._synced = None
        return self.metric(outputs, targets)

    def compute(self) -> dict[str, Any]:
        """Return the values since the last reset, by name.

        After :meth:`sync`, the values of all processes until the next
        update or reset.
        """
        if self._synced is not None:
            return dict(self._synced)
        return self._compute()

    def reset(self) -> None:
        """Forget the accumulated state."""
        self._synced = None
        self.metric.reset()

    def sync(self) -> None:
        """Compute the values of all processes (when distributed).

        Every metric's state is gathered, the values computed, and the
        local state restored, so accumulating can continue; :meth:`compute`
        returns these values until the next update or reset. Without
        torch.distributed initialized, nothing happens.
        """
        if not _distributed():
            return
        with contextlib.ExitStack() as stack:
            for leaf in _leaves(self.metric):
                stack.enter_context(
                    leaf.sync_context(distributed_available=_distributed)
                )
            self._synced = self._compute()

    def _compute(self) -> dict[str, Any]:
        metric = self.metric
        leaves = _leaves(metric)
        # each metric computed once, however often the formula uses it
        computed = {id(leaf): leaf.compute() for leaf in leaves}
        if not self._compositional:
            value = computed[id(metric)]
            if isinstance(value, Mapping):
                return dict(value)
            return {self.name: value}
        values = {_COMBINED_NAME: _evaluate(metric, computed)}
        for name, leaf in zip(_leaf_names(leaves), leaves, strict=True):
            values.setdefault(name, computed[id(leaf)])
        return values


def from_torchmetrics(torch_metric: Metric) -> TorchMetricsWrapper:
    """Wrap a torchmetrics metric to use it as a drytorch loss or metric.

    Args:
        torch_metric: a torchmetrics metric, for example a composition
            such as ``1 + MeanSquaredError()``.

    Returns:
        An object with ``update``, ``forward``, ``compute``, ``reset`` and
        ``sync``: ``compute`` returns ``{'Combined Loss': total,
        '<MetricClass>': value, ...}`` for a composition and
        ``{'<MetricClass>': value}`` otherwise.

    Raises:
        TypeError: if torch_metric is not a torchmetrics Metric.
    """
    return TorchMetricsWrapper(torch_metric)
