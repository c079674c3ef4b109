"""Clippers that judge the gradient norm against its own history.

The norms of a warm-up are collected in a :class:`StatsCollector`; their
statistics then seed a clipping criterion, which is updated at every step.
No value is moved to the host: clipping decisions are taken on the device
with ``torch.where``.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import weakref
from collections.abc import Iterable

import torch
from torch import nn

from drytorch.core import exceptions
from drytorch.lib.gradient_ops.basic import (
    ClipOperation,
    GradientOp,
    GradNormClipper,
    _with_grad,
)
from drytorch.lib.gradient_ops.criteria import (
    ClippingCriterion,
    ZStatCriterion,
)
from drytorch.lib.gradient_ops.validation import (
    check_callable,
    check_positive_int,
)

__all__ = [
    'HistClipper',
    'ParamHistClipper',
    'StatsCollector',
]


def _total_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    device = grads[0].device
    norms = [torch.linalg.vector_norm(grad).to(device) for grad in grads]
    return torch.linalg.vector_norm(torch.stack(norms))


def _scale_(grads: list[torch.Tensor], scale: torch.Tensor) -> None:
    device = scale.device
    for grad in grads:
        grad.mul_(scale if grad.device == device else scale.to(grad.device))


def _clip_scale(
    criterion: ClippingCriterion, norm: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the factor for the gradients and the norm after clipping.

    The factor is 1 where the criterion does not clip and never above 1, so
    a criterion can only shrink a gradient.
    """
    clip = torch.as_tensor(criterion.should_clip(norm), device=norm.device)
    value = torch.as_tensor(
        criterion.get_clip_value(norm), dtype=norm.dtype, device=norm.device
    )
    clipped = torch.where(clip, torch.minimum(value, norm), norm)
    # where clip is True the norm exceeds a positive bound, so it is not 0
    scale = torch.where(clip, clipped / norm, torch.ones_like(norm))
    return scale, clipped


class StatsCollector:
    """A buffer of the last ``max_samples`` values, with their statistics.

    Values are kept as tensors, so collecting them does not synchronize the
    device.

    Attributes:
        max_samples: the capacity of the buffer.
    """

    def __init__(self, max_samples: int) -> None:
        """Initialize.

        Args:
            max_samples: the capacity of the buffer, positive.
        """
        check_positive_int('max_samples', max_samples)
        self.max_samples = max_samples
        self._samples: collections.deque[torch.Tensor] = collections.deque(
            maxlen=max_samples
        )

    def __len__(self) -> int:
        return len(self._samples)

    @property
    def active(self) -> bool:
        """Whether the buffer is still filling up."""
        return len(self._samples) < self.max_samples

    @property
    def is_complete(self) -> bool:
        """Whether the buffer holds max_samples values."""
        return len(self._samples) >= self.max_samples

    @property
    def mean(self) -> torch.Tensor:
        """The mean of the values.

        Raises:
            ResultNotAvailableError: if no value was appended.
        """
        if not self._samples:
            raise exceptions.ResultNotAvailableError()
        return torch.stack(tuple(self._samples)).mean()

    @property
    def variance(self) -> torch.Tensor:
        """The sample variance of the values, 1 with fewer than two."""
        if len(self._samples) < 2:
            if self._samples:
                return torch.ones_like(self._samples[0])
            return torch.tensor(1.0)
        return torch.stack(tuple(self._samples)).var()

    def append(self, value: torch.Tensor | float) -> None:
        """Add a value, dropping the oldest one when the buffer is full.

        Args:
            value: a number or a one-element tensor.
        """
        self._samples.append(torch.as_tensor(value).detach().reshape(()))

    def reset(self) -> None:
        """Remove every value."""
        self._samples.clear()


def _default_criterion(
    criterion: ClippingCriterion | None,
) -> ClippingCriterion:
    if criterion is None:
        return ZStatCriterion()
    if not isinstance(criterion, ClippingCriterion):
        msg = f'Expected a ClippingCriterion, got {criterion!r}.'
        raise TypeError(msg)
    return criterion


def _default_strategy(strategy: GradientOp | None) -> GradientOp:
    if strategy is None:
        return GradNormClipper()
    check_callable('warmup_clip_strategy', strategy, 'a gradient operation')
    return strategy


class HistClipper(ClipOperation):
    """Clip the global gradient norm when it is abnormal for its history.

    For the first ``n_warmup_steps`` calls the global norm is recorded and
    ``warmup_clip_strategy`` is applied. Then the criterion is given the mean
    and variance of the recorded norms and, at every call, decides whether to
    clip the global norm and to which value; it is then updated with the
    norm after clipping, so that a spike does not inflate the statistics.

    Every instance has its own default criterion and warm-up strategy. A
    criterion that is passed in is used, and updated, as it is.

    Attributes:
        criterion: decides when and how much to clip.
        warmup_clip_strategy: the gradient operation used during warm-up.
        n_warmup_steps: the number of calls of the warm-up.
    """

    def __init__(
        self,
        criterion: ClippingCriterion | None = None,
        warmup_clip_strategy: GradientOp | None = None,
        n_warmup_steps: int = 20,
    ) -> None:
        """Initialize.

        Args:
            criterion: decides when and how much to clip; default: a new
                ZStatCriterion().
            warmup_clip_strategy: the gradient operation used during the
                warm-up; default: a new GradNormClipper().
            n_warmup_steps: the number of calls of the warm-up, positive.
        """
        self.criterion = _default_criterion(criterion)
        self.warmup_clip_strategy = _default_strategy(warmup_clip_strategy)
        check_positive_int('n_warmup_steps', n_warmup_steps)
        self.n_warmup_steps = n_warmup_steps
        self._collector = StatsCollector(n_warmup_steps)
        self._warming_up = True

    def __call__(self, params: Iterable[nn.Parameter]) -> None:
        """Clip the gradients in place.

        Args:
            params: the parameters whose gradients are clipped.
        """
        with_grad = _with_grad(params)
        if not with_grad:
            return
        grads = [param.grad for param in with_grad]
        norm = _total_norm(grads)  # type: ignore[arg-type]
        if self._warming_up:
            collector = self._collector
            collector.append(norm)
            self.warmup_clip_strategy(with_grad)
            if collector.is_complete:
                self.criterion.set_statistics(
                    collector.mean, collector.variance
                )
                self._warming_up = False
            return
        scale, clipped = _clip_scale(self.criterion, norm)
        _scale_(grads, scale)  # type: ignore[arg-type]
        self.criterion.update(clipped)

    def reset(self) -> None:
        """Forget the statistics and start a new warm-up."""
        self.criterion.reset()
        self._collector.reset()
        self._warming_up = True

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(criterion={self.criterion!r}, '
            f'warmup_clip_strategy={self.warmup_clip_strategy!r}, '
            f'n_warmup_steps={self.n_warmup_steps!r})'
        )


@dataclasses.dataclass
class _ParamState:
    ref: weakref.ref[nn.Parameter]
    criterion: ClippingCriterion
    collector: StatsCollector
    warming_up: bool = True


class ParamHistClipper(ClipOperation):
    """Clip each parameter's gradient norm when abnormal for its history.

    Like :class:`HistClipper`, but every parameter has its own warm-up and
    its own criterion, a deep copy of ``criterion`` (which serves only as a
    template and is never updated). The warm-up strategy is applied to the
    parameters still in their warm-up.

    States are kept per parameter object, and forgotten when the parameter
    is garbage collected.

    Attributes:
        criterion: the template of the per-parameter criteria.
        warmup_clip_strategy: the gradient operation used during warm-up.
        n_warmup_steps: the number of calls of each parameter's warm-up.
    """

    def __init__(
        self,
        criterion: ClippingCriterion | None = None,
        warmup_clip_strategy: GradientOp | None = None,
        n_warmup_steps: int = 20,
    ) -> None:
        """Initialize.

        Args:
            criterion: the template of the per-parameter criteria; default:
                a new ZStatCriterion().
            warmup_clip_strategy: the gradient operation used during the
                warm-up; default: a new GradNormClipper().
            n_warmup_steps: the number of calls of the warm-up, positive.
        """
        self.criterion = _default_criterion(criterion)
        self.warmup_clip_strategy = _default_strategy(warmup_clip_strategy)
        check_positive_int('n_warmup_steps', n_warmup_steps)
        self.n_warmup_steps = n_warmup_steps
        self._states: dict[int, _ParamState] = {}

    def __call__(self, params: Iterable[nn.Parameter]) -> None:
        """Clip the gradients in place.

        Args:
            params: the parameters whose gradients are clipped.
        """
        warming_up: list[nn.Parameter] = []
        vector_norm = torch.linalg.vector_norm
        for param in params:
            grad = param.grad
            if grad is None:
                continue
            state = self._get_state(param)
            norm = vector_norm(grad)
            if state.warming_up:
                collector = state.collector
                collector.append(norm)
                warming_up.append(param)
                if collector.is_complete:
                    state.criterion.set_statistics(
                        collector.mean, collector.variance
                    )
                    state.warming_up = False
                continue
            criterion = state.criterion
            scale, clipped = _clip_scale(criterion, norm)
            grad.mul_(scale)
            criterion.update(clipped)
        if warming_up:
            self.warmup_clip_strategy(warming_up)

    def reset(self) -> None:
        """Forget every parameter's statistics and start a new warm-up."""
        self._states.clear()

    def _get_state(self, param: nn.Parameter) -> _ParamState:
        key = id(param)
        state = self._states.get(key)
        if state is not None and state.ref() is param:
            return state
        states = self._states

        def _forget(ref: weakref.ref[nn.Parameter]) -> None:
            current = states.get(key)
            if current is not None and current.ref is ref:
                del states[key]

        state = _ParamState(
            ref=weakref.ref(param, _forget),
            criterion=copy.deepcopy(self.criterion),
            collector=StatsCollector(self.n_warmup_steps),
        )
        states[key] = state
        return state

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(criterion={self.criterion!r}, '
            f'warmup_clip_strategy={self.warmup_clip_strategy!r}, '
            f'n_warmup_steps={self.n_warmup_steps!r})'
        )
