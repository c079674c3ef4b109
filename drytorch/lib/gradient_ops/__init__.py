"""Operations on the gradients between the backward pass and the step.

A gradient operation is called as ``op(params)`` with the parameters of the
module once their gradients are computed (and unscaled, under mixed
precision) and before the optimizer step. It changes the gradients in place
and returns None; parameters without a gradient are skipped.

The clippers never move a value to the host: norms are tensors and clipping
decisions are taken on the device with ``torch.where``, so that a training
step on an accelerator is not synchronized by the gradient operation.

The modules of this package are split by concept: ``basic`` (the plain
clippers and normalizers), ``criteria`` (how a clipping threshold is
chosen), ``history`` (clippers that learn the threshold from past
gradients) and ``validation`` (argument checks). The names in ``__all__``
are the public interface; import them from here.
"""

from __future__ import annotations

from drytorch.lib.gradient_ops.basic import (
    ClipOperation,
    GradientOp,  # noqa: F401  (public alias kept out of __all__)
    GradNormClipper,
    GradParamNormalizer,
    GradValueClipper,
    GradZScoreNormalizer,
    NoOp,
)
from drytorch.lib.gradient_ops.criteria import (
    ClippingCriterion,
    ClippingFunction,  # noqa: F401  (public alias kept out of __all__)
    EMACriterion,
    ZStatCriterion,
    max_clipping,
    mean_clipping,
    reciprocal_clipping,
)
from drytorch.lib.gradient_ops.history import (
    HistClipper,
    ParamHistClipper,
    StatsCollector,
)

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
