"""Batch-norm statistics for averaged weights (SWA).

Averaged weights need batch-norm statistics of their own: those of the
trained module describe other weights. :class:`BatchNormUpdater`
recomputes them with one pass over the training data, as
``torch.optim.swa_utils.update_bn`` does, but as a runner of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import torch
from torch import nn

from drytorch.lib import runners
from drytorch.lib.models import ModelAverage

__all__ = ['BatchNormUpdater']

_In = TypeVar('_In')
_Tgt = TypeVar('_Tgt')
_Out = TypeVar('_Out')


class BatchNormUpdater(
    runners.ModelRunner[_In, _Tgt, _Out], Generic[_In, _Tgt, _Out]
):
    """Recompute the running statistics of every batch norm of a model.

    Each call resets the statistics, sets the momenta to None (so that the
    statistics are the cumulative average over the pass), runs one pass in
    training mode without gradients, then restores the momenta and the
    train/eval mode of every submodule. A model without batch norm (with
    running statistics) is left untouched and no pass is run.

    For a :class:`~drytorch.lib.models.ModelAverage`, the averaged weights
    are the ones updated and run (the trained module is left as it is).
    """

    def __init__(self, model: Any, name: str = '', *, loader: Any) -> None:
        """Args:
        model: the model whose batch norms to update.
        name: the actor's name; default: the class name.
        loader: the loader of (inputs, targets) batches, usually the
            training data.
        """  # noqa: D205
        super().__init__(model, name, loader=loader)
        self._forward: Callable[[Any], Any] = model

    def _target(self) -> nn.Module:
        model = self.model
        if isinstance(model, ModelAverage):
            return model.averaged_module
        return model.module

    def __call__(self, store_outputs: bool = False) -> None:
        """Run the pass that recomputes the statistics.

        Args:
            store_outputs: keep each batch's outputs, detached, on CPU.
        """
        target = self._target()
        norms = [
            module
            for module in target.modules()
            if isinstance(module, nn.modules.batchnorm._BatchNorm)
            and module.track_running_stats
        ]
        if not norms:
            return
        modes = [(module, module.training) for module in target.modules()]
        momenta = [(norm, norm.momentum) for norm in norms]
        try:
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None
            target.train()
            self._forward = _forward_of(self.model)
            with torch.no_grad():
                super().__call__(store_outputs)
        finally:
            for norm, momentum in momenta:
                norm.momentum = momentum
            for module, training in modes:
                module.training = training

    def _run_batch(self, inputs: Any, targets: Any) -> Any:
        return self._forward(inputs)


def _forward_of(model: Any) -> Callable[[Any], Any]:
    if not isinstance(model, ModelAverage):
        return model
    averaged = model.averaged_module

    # the model's own forward chooses by the trained module's mode; here
    # the average runs, in training mode
    def forward(inputs: Any) -> Any:
        with model.autocast():
            return averaged(inputs)

    return forward
