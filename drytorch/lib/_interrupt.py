"""What a training keeps so that an interrupted epoch can be discarded.

When training is interrupted (KeyboardInterrupt: the notebook's stop button,
Ctrl-C), the epoch in progress is discarded: the model's weights, the
optimizer's state (moments, step counts), the gradient scaler and the epoch
counter go back to where they were when the epoch started, which is the end
of the last completed epoch. The learning rate is then set again by the
schedule for that epoch. Training can continue from there with another
``train`` call, and a checkpoint saved then holds a consistent state.

For that, :class:`EpochStart` copies those states at the start of every
epoch, on the device where they live (no transfer to the host, no
synchronization): it costs one copy of the model's and the optimizer's
state in memory and a device copy per epoch, not per batch.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

__all__ = ['EpochStart']


def _clone(state: Any) -> Any:
    """A copy of a state dict sharing no tensor with the live one."""
    return copy.deepcopy(state)


class EpochStart:
    """The states of a trainer's model and optimizer at an epoch's start.

    Attributes:
        epoch: the model's epoch when the copy was taken (None before).
    """

    def __init__(self, trainer: Any) -> None:
        """Args:
        trainer: the trainer whose states to copy.
        """  # noqa: D205
        self._trainer = trainer
        self.epoch: int | None = None
        self._module: dict[str, Any] | None = None
        self._optimizer: dict[str, Any] | None = None
        self._scaler: dict[str, Any] | None = None

    def _state_module(self) -> torch.nn.Module:
        model = self._trainer.model
        module = getattr(model, 'state_module', None)
        return module if module is not None else model.module

    def take(self) -> None:
        """Copy the current states (at the start of an epoch)."""
        trainer = self._trainer
        with torch.no_grad():
            self._module = {
                key: value.detach().clone()
                for key, value in self._state_module().state_dict().items()
            }
            self._optimizer = _clone(trainer.optimizer.state_dict())
        scaler = trainer._model_optimizer.scaler
        self._scaler = scaler.state_dict() if scaler.is_enabled() else None
        self.epoch = trainer.model.epoch

    def restore(self) -> None:
        """Put the copied states back and set the schedule's rate again."""
        if self.epoch is None or self._module is None:
            return
        trainer = self._trainer
        model_optimizer = trainer._model_optimizer
        with torch.no_grad():
            self._state_module().load_state_dict(self._module)
        if self._optimizer is not None:
            trainer.optimizer.load_state_dict(self._optimizer)
        trainer.optimizer.zero_grad(set_to_none=True)
        if self._scaler is not None:
            model_optimizer.scaler.load_state_dict(self._scaler)
        trainer.model.epoch = self.epoch
        model_optimizer.apply_schedule()
