"""The optimizer of a model: parameter groups, learning rates, AMP, steps.

:class:`ModelOptimizer` is created by the Trainer. It builds one parameter
group per entry of a per-module learning-rate dict (each group really holds
its parameters), applies the scheduler to every group at each epoch, and
performs the optimization step. Under float16 mixed precision the loss is
scaled for the backward pass and the gradients are unscaled before any
gradient operation (clipping compares true gradients with its threshold).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from drytorch.core import exceptions
from drytorch.lib import gradient_ops

__all__ = ['ModelOptimizer']


def _lr_groups(
    module: torch.nn.Module, base_lr: float | Mapping[str, float]
) -> list[dict[str, Any]]:
    params = [p for p in module.parameters() if p.requires_grad]
    if not isinstance(base_lr, Mapping):
        return [{'params': params, 'base_lr': float(base_lr)}]
    groups = []
    assigned: dict[int, str] = {}
    for key, lr in base_lr.items():
        try:
            submodule = module.get_submodule(key)
        except AttributeError as error:
            children = [name for name, _ in module.named_children()]
            msg = (
                f'Expected learning-rate keys naming sub-modules of '
                f'{type(module).__name__} (e.g. {children}), got {key!r}.'
            )
            raise ValueError(msg) from error
        group_params = [p for p in submodule.parameters() if p.requires_grad]
        for param in group_params:
            if id(param) in assigned:
                msg = (
                    f'Expected disjoint learning-rate groups, but {key!r} '
                    f'and {assigned[id(param)]!r} share parameters.'
                )
                raise ValueError(msg)
            assigned[id(param)] = key
        groups.append({'params': group_params, 'base_lr': float(lr)})
    missing = sorted(
        {
            name.split('.')[0]
            for name, param in module.named_parameters()
            if param.requires_grad and id(param) not in assigned
        }
    )
    if missing:
        raise exceptions.MissingParamError(missing, list(base_lr))
    return groups


class ModelOptimizer:
    """Optimizer, learning rates and gradient scaling of a model.

    Attributes:
        optimizer: the torch optimizer.
        scheduler: the scheduler in use.
        base_lr: the base learning rate(s) in use.
    """

    def __init__(self, model: Any, learning_schema: Any) -> None:
        """Args:
        model: the model to optimize (bound to its checkpoint).
        learning_schema: optimizer class, defaults, rates, scheduler, op.
        """  # noqa: D205
        self._model = model
        self._module: torch.nn.Module = model.module
        self._schema = learning_schema
        self.scheduler = learning_schema.scheduler
        self.base_lr = learning_schema.base_lr
        groups = _lr_groups(self._module, self.base_lr)
        for group in groups:
            group['lr'] = self.scheduler(group['base_lr'], model.epoch)
        self.optimizer: torch.optim.Optimizer = learning_schema.optimizer_cls(
            groups, **learning_schema.optimizer_defaults
        )
        self._params = [p for g in groups for p in g['params']]
        op = learning_schema.gradient_op
        self._gradient_op = None if isinstance(op, gradient_ops.NoOp) else op
        device = model.device
        # float16 needs loss scaling; bfloat16 has float32's range and not
        dtype = getattr(model, 'autocast_dtype', torch.float16)
        use_scaler = bool(model.mixed_precision) and dtype == torch.float16
        self.scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
        self._use_scaler = use_scaler
        model.checkpoint.bind_optimizer(self.optimizer)

    def __repr__(self) -> str:
        name = type(self.optimizer).__name__
        return (
            f'{type(self).__name__}(module={self._model.name}, '
            f'optimizer={name})'
        )

    def get_scheduled_lr(self, lr: float) -> float:
        """The learning rate the scheduler gives at the model's epoch."""
        return self.scheduler(lr, self._model.epoch)

    def update_learning_rate(
        self,
        base_lr: float | Mapping[str, float] | None = None,
        scheduler: Any = None,
    ) -> None:
        """Replace the base rate(s) and/or the scheduler, then apply them.

        Raises:
            ValueError: if a rate dict does not match the groups' keys.
        """
        if scheduler is not None:
            self.scheduler = scheduler
        if base_lr is not None:
            groups = self.optimizer.param_groups
            if isinstance(base_lr, Mapping):
                old = self.base_lr
                keys = list(old) if isinstance(old, Mapping) else None
                if keys != list(base_lr):
                    msg = (
                        f'Expected learning rates for the groups {keys}, '
                        f'got {list(base_lr)}.'
                    )
                    raise ValueError(msg)
                for group, lr in zip(groups, base_lr.values(), strict=True):
                    group['base_lr'] = float(lr)
            else:
                for group in groups:
                    group['base_lr'] = float(base_lr)
            self.base_lr = base_lr
        self.apply_schedule()

    def apply_schedule(self) -> None:
        """Set every group's rate from its base rate at the model's epoch."""
        epoch = self._model.epoch
        scheduler = self.scheduler
        for group in self.optimizer.param_groups:
            group['lr'] = scheduler(group['base_lr'], epoch)

    def optimize(self, loss: torch.Tensor) -> None:
        """Backward pass, gradient operation and optimizer step."""
        optimizer = self.optimizer
        op = self._gradient_op
        if self._use_scaler:
            scaler = self.scaler
            scaler.scale(loss).backward()
            if op is not None:
                scaler.unscale_(optimizer)
                op(self._params)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if op is not None:
                op(self._params)
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def save(self) -> None:
        """Save model and optimizer through the model's checkpoint."""
        self._model.checkpoint.save()

    def load(self, epoch: int = -1) -> None:
        """Load model and optimizer, then apply the schedule."""
        self._model.checkpoint.load(epoch=epoch)
        self.apply_schedule()
