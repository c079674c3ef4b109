"""Operations on the gradients between the backward pass and the step.

A gradient operation is called as ``op(params)`` with the parameters of the
module once their gradients are computed (and unscaled, under mixed
precision) and before the optimizer step. It changes the gradients in place
and returns None; parameters without a gradient are skipped.

The clippers never move a value to the host: norms are tensors and clipping
decisions are taken on the device with ``torch.where``, so that a training
step on an accelerator is not synchronized by the gradient operation.
"""

from __future__ import annotations

import abc
import collections
import copy
import dataclasses
import numbers
import weakref
from collections.abc import Callable, Iterable

import torch
from torch import nn

from drytorch.core import exceptions

__all__ = [
    'ClipOperation',
    'ClippingCriterion',
    'EMACriterion',
    'GradNormClipper',
    'GradParamNormalizer',
    'GradValueClipper',
    'GradZScoreNormalizer',
    'HistClipper',
    'NoOp',
    'ParamHistClipper',
    'StatsCollector',
    'ZStatCriterion',
    'max_clipping',
    'mean_clipping',
    'reciprocal_clipping',
]

GradientOp = Callable[[Iterable[nn.Parameter]], None]
ClippingFunction = Callable[[torch.Tensor, float], torch.Tensor | float]


def _check_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f'Expected {name} to be a number, got {value!r}.'
        raise TypeError(msg)
    return float(value)


def _check_positive(name: str, value: object) -> None:
    if not _check_real(name, value) > 0:
        msg = f'Expected {name} > 0, got {value!r}.'
        raise ValueError(msg)


def _check_unit_interval(name: str, value: object) -> None:
    if not 0 <= _check_real(name, value) <= 1:
        msg = f'Expected {name} in [0, 1], got {value!r}.'
        raise ValueError(msg)


def _check_positive_int(name: str, value: object) -> None:
    is_int = isinstance(value, numbers.Integral)
    if isinstance(value, bool) or not is_int:
        msg = f'Expected {name} to be an integer, got {value!r}.'
        raise TypeError(msg)
    if not value > 0:  # type: ignore[operator]
        msg = f'Expected {name} to be a positive integer, got {value!r}.'
        raise ValueError(msg)


def _check_callable(name: str, value: object, expected: str) -> None:
    if not callable(value):
        msg = f'Expected {name} to be {expected}, got {value!r}.'
        raise TypeError(msg)


def _with_grad(params: Iterable[nn.Parameter]) -> list[nn.Parameter]:
    return [param for param in params if param.grad is not None]


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


class NoOp:
    """Leave the gradients unchanged (the default gradient operation)."""

    def __call__(self, params: Iterable[nn.Parameter]) -> None:
        """Do nothing.

        Args:
            params: the parameters, ignored.
        """
        return

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))


class GradParamNormalizer:
    """Rescale each parameter's gradient to unit L2 norm.

    Gradients whose norm is zero are left unchanged.
    """

    def __call__(self, params: Iterable[nn.Parameter]) -> None:
        """Normalize the gradients in place.

        Args:
            params: the parameters whose gradients are normalized.
        """
        for param in _with_grad(params):
            grad = param.grad
            assert grad is not None
            norm = torch.linalg.vector_norm(grad)
            grad.div_(norm.masked_fill(norm == 0, 1))

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'


class GradZScoreNormalizer:
    """Replace each gradient by its z-score ``(g - mean) / (std + eps)``.

    The standard deviation is the sample one. The z-score of a single value
    is undefined, so a gradient with one element is left unchanged (turning
    it into NaN or 0 would stop the parameter from learning).

    Attributes:
        eps: added to the standard deviation to avoid dividing by zero.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        """Initialize.

        Args:
            eps: added to the standard deviation, positive.
        """
        _check_positive('eps', eps)
        self.eps = eps

    def __call__(self, params: Iterable[nn.Parameter]) -> None:
        """Normalize the gradients in place.

        Args:
            params: the parameters whose gradients are normalized.
        """
        eps = self.eps
        for param in _with_grad(params):
            grad = param.grad
            assert grad is not None
            if grad.numel() < 2:
                continue
            std, mean = torch.std_mean(grad)
            grad.sub_(mean).div_(std + eps)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(eps={self.eps!r})'


class ClipOperation(abc.ABC):
    """Base class of the gradient clippers."""

    @abc.abstractmethod
    def __call__(self, params: Iterable[nn.Parameter]) -> None:
        """Clip the gradients in place.

        Args:
            params: the parameters whose gradients are clipped.
        """


class GradNormClipper(ClipOperation):
    """Clip the global L2 norm of the gradients to a threshold.

    Attributes:
        threshold: the largest norm allowed.
    """

    def __init__(self, threshold: float = 1) -> None:
        """Initialize.

        Args:
            threshold: the largest norm allowed, positive.
        """
        _check_positive('threshold', threshold)
        self.threshold = threshold

    def __call__(self, params: Iterable[nn.Parameter]) -> None:
        """Clip the gradients in place (see ``clip_grad_norm_``).

        Args:
            params: the parameters whose gradients are clipped.
        """
        nn.utils.clip_grad_norm_(_with_grad(params), self.threshold)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(threshold={self.threshold!r})'


class GradValueClipper(ClipOperation):
    """Clip every gradient element to ``[-threshold, threshold]``.

    Attributes:
        threshold: the largest absolute value allowed.
    """

    def __init__(self, threshold: float = 1) -> None:
        """Initialize.

        Args:
            threshold: the largest absolute value allowed, positive.
        """
        _check_positive('threshold', threshold)
        self.threshold = threshold

    def __call__(self, params: Iterable[nn.Parameter]) -> None:
        """Clip the gradients in place (see ``clip_grad_value_``).

        Args:
            params: the parameters whose gradients are clipped.
        """
        nn.utils.clip_grad_value_(_with_grad(params), self.threshold)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(threshold={self.threshold!r})'


def reciprocal_clipping(
    zt: torch.Tensor, z_thresh: float
) -> torch.Tensor | float:
    """Return ``z_thresh**2 / zt``: the larger the spike, the harder the clip.

    Args:
        zt: the statistic of the current value (above the threshold).
        z_thresh: the threshold of the statistic.

    Returns:
        The statistic to clip to.
    """
    return z_thresh**2 / zt


def mean_clipping(zt: torch.Tensor, z_thresh: float) -> torch.Tensor | float:
    """Return 0: clip to the running mean.

    Args:
        zt: the statistic of the current value, ignored.
        z_thresh: the threshold of the statistic, ignored.

    Returns:
        0.
    """
    return 0.0


def max_clipping(zt: torch.Tensor, z_thresh: float) -> torch.Tensor | float:
    """Return ``z_thresh``: clip to the largest value that is not clipped.

    Args:
        zt: the statistic of the current value, ignored.
        z_thresh: the threshold of the statistic.

    Returns:
        z_thresh.
    """
    return z_thresh


class ClippingCriterion(abc.ABC):
    """Decide from running statistics when and how much to clip a norm.

    Values and results are tensors, so that no decision needs the host.
    Before any statistics are set or updated, nothing is clipped.
    """

    @abc.abstractmethod
    def should_clip(self, value: torch.Tensor) -> torch.Tensor:
        """Return a boolean tensor: whether the value is to be clipped.

        Args:
            value: the current norm.
        """

    @abc.abstractmethod
    def get_clip_value(self, value: torch.Tensor) -> torch.Tensor:
        """Return the norm to clip the value to.

        Args:
            value: the current norm.
        """

    @abc.abstractmethod
    def update(self, value: torch.Tensor) -> None:
        """Update the running statistics with a new value.

        Args:
            value: the norm after clipping.
        """

    @abc.abstractmethod
    def set_statistics(
        self, mean: torch.Tensor | float, variance: torch.Tensor | float = 0.0
    ) -> None:
        """Set the running statistics (after a warm-up, for example).

        Args:
            mean: the mean of the norm.
            variance: the variance of the norm.
        """

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget the running statistics."""


class EMACriterion(ClippingCriterion):
    """Clip when the norm exceeds its exponential moving average by a ratio.

    With ``ratio = value / mean``, a value is clipped when
    ``ratio > r_thresh``, to ``mean * clipping_function(ratio, r_thresh)``.

    Attributes:
        alpha: the weight of the past in the moving average.
        r_thresh: the ratio above which a value is clipped.
        clipping_function: maps (ratio, r_thresh) to the ratio to clip to.
    """

    def __init__(
        self,
        alpha: float = 0.98,
        r_thresh: float = 1.05,
        clipping_function: ClippingFunction = max_clipping,
    ) -> None:
        """Initialize.

        Args:
            alpha: the weight of the past in the moving average, in [0, 1].
            r_thresh: the ratio above which a value is clipped, positive.
            clipping_function: maps (ratio, r_thresh) to the ratio to clip
                to.
        """
        _check_unit_interval('alpha', alpha)
        _check_positive('r_thresh', r_thresh)
        _check_callable(
            'clipping_function', clipping_function, 'a clipping function'
        )
        self.alpha = alpha
        self.r_thresh = r_thresh
        self.clipping_function = clipping_function
        self._mean: torch.Tensor | float | None = None

    @property
    def mean(self) -> torch.Tensor | float | None:
        """The moving average, None before any statistics."""
        return self._mean

    def should_clip(self, value: torch.Tensor) -> torch.Tensor:
        """Return whether ``value / mean > r_thresh``, as a boolean tensor.

        Args:
            value: the current norm.
        """
        if self._mean is None:
            return torch.zeros_like(value, dtype=torch.bool)
        return value / self._mean > self.r_thresh

    def get_clip_value(self, value: torch.Tensor) -> torch.Tensor:
        """Return ``mean * clipping_function(value / mean, r_thresh)``.

        Args:
            value: the current norm.
        """
        mean = self._mean
        if mean is None:
            return value
        ratio = value / mean
        return mean * torch.as_tensor(
            self.clipping_function(ratio, self.r_thresh)
        ).to(value)

    def update(self, value: torch.Tensor) -> None:
        """Update the moving average.

        Args:
            value: the norm after clipping.
        """
        value = value.detach()
        if self._mean is None:
            self._mean = value.clone()
            return
        alpha = self.alpha
        self._mean = alpha * self._mean + (1 - alpha) * value

    def set_statistics(
        self, mean: torch.Tensor | float, variance: torch.Tensor | float = 0.0
    ) -> None:
        """Set the moving average; the variance is not used.

        Args:
            mean: the mean of the norm.
            variance: ignored.
        """
        self._mean = mean

    def reset(self) -> None:
        """Forget the moving average."""
        self._mean = None

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(alpha={self.alpha!r}, '
            f'r_thresh={self.r_thresh!r}, '
            f'clipping_function={_name(self.clipping_function)})'
        )


class ZStatCriterion(ClippingCriterion):
    """Clip when the z-score of the norm exceeds a threshold.

    Running mean and variance are exponential moving averages. With
    ``z = (value - mean) / (std + eps)``, a value is clipped when
    ``z > z_thresh``, to ``mean + clipping_function(z, z_thresh) * std``.
    Only values above the mean are clipped: a small gradient is never
    enlarged.

    Attributes:
        alpha: the weight of the past in the moving averages.
        z_thresh: the z-score above which a value is clipped.
        clipping_function: maps (z, z_thresh) to the z-score to clip to.
        eps: added to the standard deviation to avoid dividing by zero.
    """

    def __init__(
        self,
        alpha: float = 0.97,
        z_thresh: float = 2.5,
        clipping_function: ClippingFunction = reciprocal_clipping,
        eps: float = 1e-6,
    ) -> None:
        """Initialize.

        Args:
            alpha: the weight of the past in the moving averages, in [0, 1].
            z_thresh: the z-score above which a value is clipped, positive.
            clipping_function: maps (z, z_thresh) to the z-score to clip to.
            eps: added to the standard deviation, positive.
        """
        _check_unit_interval('alpha', alpha)
        _check_positive('z_thresh', z_thresh)
        _check_callable(
            'clipping_function', clipping_function, 'a clipping function'
        )
        _check_positive('eps', eps)
        self.alpha = alpha
        self.z_thresh = z_thresh
        self.clipping_function = clipping_function
        self.eps = eps
        self._mean: torch.Tensor | float | None = None
        self._variance: torch.Tensor | float = 0.0

    @property
    def mean(self) -> torch.Tensor | float | None:
        """The running mean, None before any statistics."""
        return self._mean

    @property
    def variance(self) -> torch.Tensor | float:
        """The running variance."""
        return self._variance

    def _z_score(
        self, value: torch.Tensor, mean: torch.Tensor | float
    ) -> torch.Tensor:
        return (value - mean) / (self._variance**0.5 + self.eps)

    def should_clip(self, value: torch.Tensor) -> torch.Tensor:
        """Return whether the z-score exceeds z_thresh, as a boolean tensor.

        Args:
            value: the current norm.
        """
        mean = self._mean
        if mean is None:
            return torch.zeros_like(value, dtype=torch.bool)
        return self._z_score(value, mean) > self.z_thresh

    def get_clip_value(self, value: torch.Tensor) -> torch.Tensor:
        """Return ``mean + clipping_function(|z|, z_thresh) * std``.

        Args:
            value: the current norm.
        """
        mean = self._mean
        if mean is None:
            return value
        z_score = torch.as_tensor(self._z_score(value, mean)).abs()
        target = self.clipping_function(z_score, self.z_thresh)
        return mean + torch.as_tensor(target).to(value) * self._variance**0.5

    def update(self, value: torch.Tensor) -> None:
        """Update the running mean and variance.

        Args:
            value: the norm after clipping.
        """
        value = value.detach()
        if self._mean is None:
            self._mean = value.clone()
            self._variance = torch.zeros_like(value)
            return
        alpha = self.alpha
        mean = alpha * self._mean + (1 - alpha) * value
        self._variance = alpha * self._variance + (1 - alpha) * (
            (value - mean) ** 2
        )
        self._mean = mean

    def set_statistics(
        self, mean: torch.Tensor | float, variance: torch.Tensor | float = 0.0
    ) -> None:
        """Set the running mean and variance.

        Args:
            mean: the mean of the norm.
            variance: the variance of the norm.
        """
        self._mean = mean
        self._variance = variance

    def reset(self) -> None:
        """Forget the running statistics."""
        self._mean = None
        self._variance = 0.0

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(alpha={self.alpha!r}, '
            f'z_thresh={self.z_thresh!r}, '
            f'clipping_function={_name(self.clipping_function)}, '
            f'eps={self.eps!r})'
        )


def _name(func: object) -> str:
    return getattr(func, '__name__', repr(func))


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
        _check_positive_int('max_samples', max_samples)
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
    _check_callable('warmup_clip_strategy', strategy, 'a gradient operation')
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
        _check_positive_int('n_warmup_steps', n_warmup_steps)
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
        _check_positive_int('n_warmup_steps', n_warmup_steps)
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
