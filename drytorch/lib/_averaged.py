"""Averaged models by their drytorch 0.1.0rc11 names: SWA and EMA.

Both are :class:`~drytorch.lib.models.ModelAverage` s that average the
buffers too (batch-norm statistics included) and choose their averaging
function: :class:`EMAModel` keeps an exponential moving average updated
after every optimizer step; :class:`SWAModel` adds the weights at the end
of every epoch from ``start_epoch`` on (stochastic weight averaging), and
evaluates the trained weights until the average has any.

Evaluations (which put the module in eval mode) run the average, training
runs the trained module, as for every ModelAverage. One difference from
0.1.0rc11: ``averaged_module`` is torch's ``AveragedModel`` (the wrapper),
also reachable as ``exec_averaged_module``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn

from drytorch.core.protocols import CheckpointProtocol
from drytorch.lib.models import Model, ModelAverage

__all__ = ['AveragedModel', 'EMAModel', 'SWAModel']

_In = TypeVar('_In')
_Out = TypeVar('_Out')


class AveragedModel(ModelAverage[_In, _Out], abc.ABC):
    """A model average whose subclass chooses the averaging function."""

    def __init__(
        self,
        torch_module: nn.Module,
        /,
        name: str = '',
        device: torch.device | str | None = None,
        checkpoint: CheckpointProtocol | None = None,
        mixed_precision: bool = False,
    ) -> None:
        """Args:
            torch_module: the module to train and average.
            name: the model's name; default: the module's class name.
            device: where to move the module; default: the current
                accelerator, else CPU.
            checkpoint: saving and loading; default: a LocalCheckpoint.
            mixed_precision: run the forward under autocast.

        Raises:
            NoActiveExperimentError: outside a run.
            TypeError: if ``torch_module`` is not an nn.Module.
        """  # noqa: D205
        super().__init__(
            torch_module,
            name=name,
            device=device,
            checkpoint=checkpoint,
            mixed_precision=mixed_precision,
            multi_avg_fn=self._get_multi_avg_fn(),
            use_buffers=True,
        )

    @property
    def exec_averaged_module(self) -> torch.optim.swa_utils.AveragedModel:
        """Torch's AveragedModel holding the average (0.1.0rc11's name)."""
        return self.averaged_module

    @abc.abstractmethod
    def _get_multi_avg_fn(self) -> Callable[..., None] | None:
        """The in-place averaging function (None: the running mean)."""


class EMAModel(AveragedModel[_In, _Out]):
    """An exponential moving average, updated after every optimizer step.

    Attributes:
        decay: the weight of the average at each update, in [0, 1).
    """

    def __init__(
        self,
        torch_module: nn.Module,
        /,
        name: str = '',
        device: torch.device | str | None = None,
        checkpoint: CheckpointProtocol | None = None,
        mixed_precision: bool = False,
        decay: float = 0.999,
    ) -> None:
        """Args:
            torch_module: the module to train and average.
            name: the model's name; default: the module's class name.
            device: where to move the module; default: the current
                accelerator, else CPU.
            checkpoint: saving and loading; default: a LocalCheckpoint.
            mixed_precision: run the forward under autocast.
            decay: the weight of the average at each update, in [0, 1).

        Raises:
            ValueError: if decay is not in [0, 1).
        """  # noqa: D205
        if isinstance(decay, bool) or not 0 <= decay < 1:
            msg = f'Expected 0 <= decay < 1, got {decay!r}.'
            raise ValueError(msg)
        self.decay = decay
        super().__init__(
            torch_module,
            name=name,
            device=device,
            checkpoint=checkpoint,
            mixed_precision=mixed_precision,
        )

    def _get_multi_avg_fn(self) -> Callable[..., None]:
        return torch.optim.swa_utils.get_ema_multi_avg_fn(decay=self.decay)


class SWAModel(AveragedModel[_In, _Out]):
    """Stochastic weight averaging: one update per epoch from start_epoch.

    Attributes:
        start_epoch: the first epoch whose final weights are averaged.
    """

    def __init__(
        self,
        torch_module: nn.Module,
        /,
        start_epoch: int,
        name: str = '',
        device: torch.device | str | None = None,
        checkpoint: CheckpointProtocol | None = None,
        mixed_precision: bool = False,
    ) -> None:
        """Args:
            torch_module: the module to train and average.
            start_epoch: the first epoch whose final weights are averaged.
            name: the model's name; default: the module's class name.
            device: where to move the module; default: the current
                accelerator, else CPU.
            checkpoint: saving and loading; default: a LocalCheckpoint.
            mixed_precision: run the forward under autocast.

        Raises:
            TypeError: if start_epoch is not an int.
            ValueError: if start_epoch is negative.
        """  # noqa: D205
        if isinstance(start_epoch, bool) or not isinstance(start_epoch, int):
            msg = f'Expected an int start_epoch, got {start_epoch!r}.'
            raise TypeError(msg)
        if start_epoch < 0:
            msg = f'Expected a non-negative start_epoch, got {start_epoch}.'
            raise ValueError(msg)
        self.start_epoch = start_epoch
        super().__init__(
            torch_module,
            name=name,
            device=device,
            checkpoint=checkpoint,
            mixed_precision=mixed_precision,
        )

    def __call__(self, inputs: _In) -> _Out:
        """The average in eval mode once it has weights, else the module."""
        if self.module.training or not int(self.averaged_module.n_averaged):
            return Model.__call__(self, inputs)
        return super().__call__(inputs)

    def update_parameters(self) -> None:
        """Nothing per optimizer step: SWA averages once per epoch."""

    def post_epoch_update(self) -> None:
        """Add the weights of the epoch just trained, from start_epoch on."""
        if self.epoch >= self.start_epoch:
            super().update_parameters()

    def _get_multi_avg_fn(self) -> Any:
        return None
