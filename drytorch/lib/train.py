"""The Trainer: the standard training loop, as fast as a hand-written one.

Per batch it does what a hand-written loop does (forward, loss, backward,
step) plus one detached accumulation of the logged values on the device:
no event, no host synchronization. Whether the loss stayed finite is checked
once per epoch, from the epoch's accumulated loss.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import torch
from torch import nn

from drytorch.core import events, exceptions, scope
from drytorch.core.protocols import (
    LearningProtocol,
    LoaderProtocol,
    LossProtocol,
    ModelProtocol,
)
from drytorch.lib import _interrupt, evaluations, hooks, runners
from drytorch.lib.optimization import ModelOptimizer

__all__ = ['Trainer']

_In = TypeVar('_In')
_Tgt = TypeVar('_Tgt')
_Out = TypeVar('_Out')


def _undistributed(module: Any) -> bool:
    """Whether processes train a module that DDP does not keep in sync.

    Each process would then update its own copy of the weights (a model
    built with ``should_distribute=False``), and the copies diverge.
    """
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return False
    wrapped = nn.parallel.DistributedDataParallel
    return not isinstance(module, wrapped)


class Trainer(
    runners.ModelRunnerWithLogs[_In, _Tgt, _Out], Generic[_In, _Tgt, _Out]
):
    """Trains a model, one epoch per call.

    Attributes:
        learning_schema: how to optimize.
        validation: the latest validation added with add_validation.
        pre_epoch_hooks: hooks run before each epoch, given the trainer.
        post_epoch_hooks: hooks run after each epoch, given the trainer.
        discard_interrupted_epoch: on KeyboardInterrupt, put the model and
            the optimizer back at the last completed epoch (this takes a
            copy of their state at the start of every epoch, on their
            device). Set it to False for a model whose state is too large
            to copy: an interrupt then leaves the state as it was at that
            moment, the epoch in progress counted and nothing saved.
    """

    discard_interrupted_epoch: bool = True

    def __init__(
        self,
        model: ModelProtocol[_In, _Out],
        name: str = '',
        *,
        loader: LoaderProtocol[tuple[_In, _Tgt]],
        loss: LossProtocol[_Out, _Tgt],
        learning_schema: LearningProtocol,
    ) -> None:
        """Args:
        model: the model to train.
        name: the actor's name; default: the class name.
        loader: the loader of (inputs, targets) training batches.
        loss: the loss to minimize (its logged values are averaged per
            epoch); copied, so trainers never share state.
        learning_schema: optimizer, learning rates, scheduler and
            gradient operation.
        """  # noqa: D205
        super().__init__(model, name, loader=loader, objective=loss)
        self.learning_schema = learning_schema
        self.validation: evaluations.Validation | None = None
        self.pre_epoch_hooks: hooks.HookRegistry[Trainer] = (
            hooks.HookRegistry()
        )
        self.post_epoch_hooks: hooks.HookRegistry[Trainer] = (
            hooks.HookRegistry()
        )
        self._terminated = False
        self._model_optimizer = ModelOptimizer(model, learning_schema)

    @property
    def terminated(self) -> bool:
        """Whether training was terminated."""
        return self._terminated

    @property
    def current_scheduler(self) -> Any:
        """The scheduler in use (changed by update_learning_rate)."""
        return self._model_optimizer.scheduler

    @property
    def optimizer(self) -> Any:
        """The torch optimizer."""
        return self._model_optimizer.optimizer

    def __call__(self, store_outputs: bool = False) -> None:
        """Train for one epoch."""
        if self._terminated:
            warnings.warn(exceptions.TerminatedTrainingWarning(), stacklevel=2)
            return
        model = self.model
        if _undistributed(model.module):
            warnings.warn(
                exceptions.ModuleNotDistributedWarning(), stacklevel=2
            )
        model.module.train()
        model.increment_epoch()
        self._model_optimizer.apply_schedule()
        super().__call__(store_outputs)
        post_epoch_update = getattr(model, 'post_epoch_update', None)
        if post_epoch_update is not None:  # e.g. SWAModel's averaging
            post_epoch_update()

    def _run_batch(self, inputs: Any, targets: Any) -> Any:
        model = self.model
        outputs = model(inputs)
        loss = self.objective.forward(outputs, targets)
        if loss.numel() != 1:
            raise exceptions.LossNotScalarError(tuple(loss.shape))
        self._model_optimizer.optimize(loss)
        model.update_parameters()
        return outputs

    def _finish_pass(self) -> None:
        super()._finish_pass()
        value = self._loss_value(self.computed_metrics)
        if value is not None and not math.isfinite(value):
            self.terminate_training(f'the loss became {value}')
            raise exceptions.ConvergenceError(value)

    def _loss_value(self, metrics: Mapping[str, float]) -> float | None:
        name = getattr(self.objective, 'name', None)
        if isinstance(name, str) and name in metrics:
            return metrics[name]
        return next(iter(metrics.values()), None)

    def train(self, n_epochs: int) -> None:
        """Train for ``n_epochs`` epochs (fewer if terminated).

        On KeyboardInterrupt (the notebook's stop button, Ctrl-C) the epoch
        in progress is discarded: model weights, optimizer state and the
        epoch counter go back to the end of the last completed epoch (see
        :mod:`drytorch.lib._interrupt`), that epoch is saved through the
        model's checkpoint if this call completed any, an
        ``InterruptedTrainingEvent`` is published and the interrupt goes on.
        Another ``train`` call continues from there.
        """
        if isinstance(n_epochs, bool) or not isinstance(n_epochs, int):
            msg = f'Expected an int number of epochs, got {n_epochs!r}.'
            raise TypeError(msg)
        if n_epochs < 0:
            msg = f'Expected a non-negative number of epochs, got {n_epochs}.'
            raise ValueError(msg)
        if self._terminated:
            warnings.warn(exceptions.TerminatedTrainingWarning(), stacklevel=2)
            return
        model = self.model
        name = self.name
        first_epoch = model.epoch
        end = model.epoch + n_epochs
        scope.publish(
            events.StartTrainingEvent(
                source_name=name,
                model_name=model.name,
                start_epoch=model.epoch,
                end_epoch=end,
            )
        )
        start = _interrupt.EpochStart(self)
        discard = self.discard_interrupted_epoch
        in_epoch = False
        try:
            for _ in range(n_epochs):
                if discard:
                    start.take()
                in_epoch = True
                scope.publish(
                    events.StartEpochEvent(
                        source_name=name,
                        model_name=model.name,
                        epoch=model.epoch + 1,
                        end_epoch=end,
                    )
                )
                self.pre_epoch_hooks.execute(self)
                self()
                self.post_epoch_hooks.execute(self)
                scope.publish(
                    events.EndEpochEvent(
                        source_name=name,
                        model_name=model.name,
                        epoch=model.epoch,
                    )
                )
                in_epoch = False
                if self._terminated:
                    break
        except KeyboardInterrupt:
            self._interrupted(start, in_epoch, first_epoch)
            raise
        finally:
            if scope.active_run() is not None:
                scope.publish(events.EndTrainingEvent(source_name=name))

    def _interrupted(
        self, start: _interrupt.EpochStart, in_epoch: bool, first_epoch: int
    ) -> None:
        """Discard the epoch in progress, save the last completed one."""
        discarded = in_epoch and start.epoch is not None
        if discarded:
            start.restore()
        model = self.model
        if scope.active_run() is None:
            return
        saved = False
        if model.epoch > first_epoch and (discarded or not in_epoch):
            try:
                self.save_checkpoint()
            except exceptions.CheckpointNotInitializedError:
                pass  # no bound checkpoint: nothing to save to
            else:
                saved = True
        scope.publish(
            events.InterruptedTrainingEvent(
                source_name=self.name,
                model_name=model.name,
                epoch=model.epoch,
                discarded=discarded,
                saved=saved,
            )
        )

    def train_until(self, epoch: int) -> None:
        """Train until the model reaches ``epoch``."""
        remaining = epoch - self.model.epoch
        if remaining <= 0:
            warnings.warn(
                exceptions.PastEpochWarning(epoch, self.model.epoch),
                stacklevel=2,
            )
            return
        self.train(remaining)

    def add_validation(
        self, val_loader: Any, name: str | int = '', interval: int = 1
    ) -> None:
        """Validate after every ``interval`` epochs (a post-epoch hook).

        Several validations may be added (give them different names); all
        run, and :attr:`validation` is the latest. Register monitoring
        hooks after this one, so that they see the current epoch's
        validation metrics.

        Args:
            val_loader: the loader of (inputs, targets) batches.
            name: the validation's name; default: ``Validation``. An int
                here is the interval, as the second argument was in
                0.1.0rc5 (0.1.0rc11 put the name there).
            interval: the number of epochs between two validations.

        Raises:
            TypeError: if the interval is not an int, or the name not a str.
            ValueError: if the interval is less than 1, or given twice.
        """
        if isinstance(name, int) and not isinstance(name, bool):
            if interval != 1:
                msg = (
                    f'Expected the interval once, got {name!r} as the '
                    f'second argument and interval={interval!r}.'
                )
                raise ValueError(msg)
            interval, name = name, ''
        if not isinstance(name, str):
            msg = f'Expected a str name, got {name!r}.'
            raise TypeError(msg)
        if isinstance(interval, bool) or not isinstance(interval, int):
            msg = f'Expected an int interval, got {interval!r}.'
            raise TypeError(msg)
        if interval < 1:
            msg = f'Expected an interval of at least 1, got {interval}.'
            raise ValueError(msg)
        validation: evaluations.Validation[_In, _Tgt, _Out]
        validation = evaluations.Validation(
            self.model, name, loader=val_loader, metric=self.objective
        )
        hook: Any = hooks.StaticHook(validation)
        if interval > 1:
            hook = hook.bind(hooks.call_every(interval))
        self.post_epoch_hooks.register(hook)
        self.validation = validation

    def terminate_training(self, reason: str) -> None:
        """Stop training at the end of the current epoch."""
        self._terminated = True
        scope.publish(
            events.TerminatedTrainingEvent(
                source_name=self.name,
                model_name=self.model.name,
                epoch=self.model.epoch,
                reason=reason,
            )
        )

    def save_checkpoint(self) -> None:
        """Save the model and optimizer states at the current epoch."""
        self._model_optimizer.save()

    def load_checkpoint(self, epoch: int = -1) -> None:
        """Load the model and optimizer states (-1: the last saved)."""
        self._model_optimizer.load(epoch)

    def update_learning_rate(
        self,
        base_lr: float | Mapping[str, float] | None = None,
        scheduler: Any = None,
    ) -> None:
        """Change the base learning rate(s) and/or the scheduler now."""
        scope.publish(
            events.LearningRateEvent(
                model_name=self.model.name,
                source_name=self.name,
                epoch=self.model.epoch,
                base_lr=base_lr,
                scheduler_name=None if scheduler is None else repr(scheduler),
            )
        )
        self._model_optimizer.update_learning_rate(base_lr, scheduler)
