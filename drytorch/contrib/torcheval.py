"""Torcheval metrics as drytorch metrics.

Needs the ``torcheval`` extra (``pip install 'drytorch[torcheval]'``).

:func:`from_torcheval` wraps a torcheval metric so that a runner can use it
as an objective: its value is reported under the metric's class name and
processes are synchronized once per pass, by :meth:`TorchEvalWrapper.sync`.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

try:
    # torcheval decorates functions with torch.jit.script, which recent
    # torch versions deprecate at import time
    with warnings.catch_warnings():
        warnings.filterwarnings(
            'ignore', message=r'.*torch\.jit\.script', category=Warning
        )
        from torcheval.metrics import Metric
        from torcheval.metrics.toolkit import sync_and_compute
except ImportError as _error:
    _msg = (
        "drytorch.contrib.torcheval needs the 'torcheval' extra: "
        "pip install 'drytorch[torcheval]'"
    )
    raise ImportError(_msg, name='torcheval') from _error

__all__ = ['TorchEvalWrapper', 'from_torcheval']


def _distributed() -> bool:
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized()


class TorchEvalWrapper:
    """A torcheval metric with drytorch's naming and synchronization.

    Attributes:
        metric: the torcheval metric.
        name: the metric's class name; its value is logged under it.
        higher_is_better: the metric's, if it tells (torcheval's metrics
            do not: None).
    """

    def __init__(self, metric: Metric[Any]) -> None:
        """Args:
            metric: the torcheval metric.

        Raises:
            TypeError: if metric is not a torcheval Metric.
        """  # noqa: D205
        if not isinstance(metric, Metric):
            msg = f'Expected a torcheval Metric, got {type(metric).__name__}.'
            raise TypeError(msg)
        self.metric = metric
        self.name = type(metric).__name__
        self.higher_is_better: bool | None = getattr(
            metric, 'higher_is_better', None
        )
        self._synced: Any = None

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.name})'

    @property
    def device(self) -> torch.device:
        """Where the metric's state lives."""
        return self.metric.device

    def to(self, device: torch.device | str) -> TorchEvalWrapper:
        """Move the metric's state to a device; return self."""
        self.metric.to(device)
        return self

    def update(self, outputs: Any, targets: Any, /) -> None:
        """Add a batch to the state."""
        self._synced = None
        self.metric.update(outputs, targets)

    def compute(self) -> Any:
        """Return the value since the last reset, as torcheval computes it.

        A tensor (or the metric's own mapping), as in drytorch 0.1.0rc5;
        runners log a tensor under :attr:`name`. After :meth:`sync`, the
        value of all processes until the next update or reset.
        """
        value = self._synced
        if value is None:
            value = self.metric.compute()
        return value

    def reset(self) -> None:
        """Forget the accumulated state."""
        self._synced = None
        self.metric.reset()

    def sync(self) -> None:
        """Compute the value of all processes (when distributed).

        Uses ``torcheval.metrics.toolkit.sync_and_compute``, which leaves
        the local state unchanged; :meth:`compute` returns the value until
        the next update or reset. Without torch.distributed initialized,
        nothing happens.
        """
        if _distributed():
            self._synced = sync_and_compute(self.metric)


def from_torcheval(torch_eval: Metric[Any]) -> TorchEvalWrapper:
    """Wrap a torcheval metric to use it as a drytorch metric.

    Args:
        torch_eval: the torcheval metric.

    Returns:
        An object with ``update``, ``compute``, ``reset`` and ``sync``;
        ``compute`` returns torcheval's value, logged as ``<MetricClass>``.

    Raises:
        TypeError: if torch_eval is not a torcheval Metric.
    """
    return TorchEvalWrapper(torch_eval)
