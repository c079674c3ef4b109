"""Objectives and metric collections: named tensors averaged over an epoch.

Also the helpers that apply metric functions, check a metric object's
device and move an epoch's averages to the host.
"""

from __future__ import annotations

import abc
import copy
import itertools
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import torch

from drytorch.core import exceptions
from drytorch.utils.average import TorchAverager

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    'Metric',
    'MetricCollection',
    'Objective',
    'check_device',
    'compute_metrics',
    'dict_apply',
]

_Output = TypeVar('_Output')
_Target = TypeVar('_Target')


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
            calculator's ``name`` if it is a string, else its class name)
            or None (nothing to report).

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
        name = getattr(calculator, 'name', None)
        if not isinstance(name, str) or not name:
            name = type(calculator).__name__
        computed = {name: computed}
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
        # imported here: the loss classes derive from this module's classes
        from drytorch.lib.objectives.loss_base import LossBase

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
