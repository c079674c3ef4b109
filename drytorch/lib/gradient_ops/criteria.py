"""Clipping functions and the criteria that decide when and how to clip.

A criterion keeps running statistics of a norm and, from them, decides on
the device whether a new norm is abnormal and to which value to clip it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import torch

from drytorch.lib.gradient_ops.validation import (
    check_callable,
    check_positive,
    check_unit_interval,
)

__all__ = [
    'ClippingCriterion',
    'ClippingFunction',
    'EMACriterion',
    'ZStatCriterion',
    'max_clipping',
    'mean_clipping',
    'reciprocal_clipping',
]

ClippingFunction = Callable[[torch.Tensor, float], torch.Tensor | float]


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
        check_unit_interval('alpha', alpha)
        check_positive('r_thresh', r_thresh)
        check_callable(
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
        check_unit_interval('alpha', alpha)
        check_positive('z_thresh', z_thresh)
        check_callable(
            'clipping_function', clipping_function, 'a clipping function'
        )
        check_positive('eps', eps)
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
