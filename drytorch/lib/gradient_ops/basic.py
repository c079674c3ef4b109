"""Stateless gradient operations: normalizers and fixed-threshold clippers.

A gradient operation is called as ``op(params)`` with the parameters of the
module and changes their gradients in place; parameters without a gradient
are skipped.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable

import torch
from torch import nn

from drytorch.lib.gradient_ops.validation import check_positive

__all__ = [
    'ClipOperation',
    'GradNormClipper',
    'GradParamNormalizer',
    'GradValueClipper',
    'GradZScoreNormalizer',
    'GradientOp',
    'NoOp',
]

GradientOp = Callable[[Iterable[nn.Parameter]], None]


def _with_grad(params: Iterable[nn.Parameter]) -> list[nn.Parameter]:
    return [param for param in params if param.grad is not None]


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
        check_positive('eps', eps)
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
        check_positive('threshold', threshold)
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
        check_positive('threshold', threshold)
        self.threshold = threshold

    def __call__(self, params: Iterable[nn.Parameter]) -> None:
        """Clip the gradients in place (see ``clip_grad_value_``).

        Args:
            params: the parameters whose gradients are clipped.
        """
        nn.utils.clip_grad_value_(_with_grad(params), self.threshold)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(threshold={self.threshold!r})'
