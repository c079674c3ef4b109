"""Metrics and losses: named tensors averaged over an epoch.

An :class:`Objective` turns a batch's ``(outputs, targets)`` into named
tensors and accumulates them on the device. Per batch nothing leaves the
device: :meth:`Objective.update` and :meth:`LossBase.forward` return
tensors, and only :func:`compute_metrics` (once per epoch) moves the
averages to the host, with a single transfer.

A value may be a scalar (one sample) or a per-sample vector (one sample per
element): vectors give the exact per-sample mean across batches of
different sizes, scalars give the mean of the batch means.

Losses combine with arithmetic (``mse ** 2 + 0.5 * mae``) and with ``|``
(extra metrics to log). Combinations keep track of their name, of whether
higher values are better and of a formula that reads as the value is
computed.

The modules of this package are split by concept: ``base`` (objectives,
metric collections and the helpers to apply and compute them),
``combinations`` (the criteria and formulas that losses are combined with),
``loss_base`` (the abstract loss and its arithmetic), ``losses`` (the
concrete losses) and ``tracking`` (the history of a monitored value). The
names in ``__all__`` are the public interface; import them from here.
"""

from __future__ import annotations

from drytorch.lib.objectives.base import (
    Metric,
    MetricCollection,
    Objective,
    check_device,
    compute_metrics,
    dict_apply,
)
from drytorch.lib.objectives.joins import JoinLossMetrics, JoinMetrics
from drytorch.lib.objectives.loss_base import LossBase
from drytorch.lib.objectives.losses import CompositionalLoss, Loss
from drytorch.lib.objectives.tracking import MetricTracker

AverageObjective = Objective
"""0.1.0rc11's name of :class:`Objective`, whose values are averaged."""

__all__ = [
    'AverageObjective',
    'CompositionalLoss',
    'JoinLossMetrics',
    'JoinMetrics',
    'Loss',
    'LossBase',
    'Metric',
    'MetricCollection',
    'MetricTracker',
    'Objective',
    'check_device',
    'compute_metrics',
    'dict_apply',
]
