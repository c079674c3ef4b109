"""Models: a module with a name, an epoch counter, a device and checkpoints.

A :class:`Model` registers its module with the active run when it is built;
see :mod:`drytorch.core.register`.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import torch
from torch import nn

from drytorch.core import naming, register, scope
from drytorch.core.protocols import CheckpointProtocol

__all__ = ['Model', 'count_params', 'default_device']

_In = TypeVar('_In')
_Out = TypeVar('_Out')


def default_device() -> torch.device:
    """The current accelerator (with its index) if there is one, else CPU."""
    accelerator = getattr(torch, 'accelerator', None)
    if accelerator is not None and accelerator.is_available():
        current = accelerator.current_accelerator()
        if current is not None:
            index = accelerator.current_device_index()
            return torch.device(current.type, index)
    if torch.cuda.is_available():
        return torch.device('cuda', torch.cuda.current_device())
    return torch.device('cpu')


def count_params(params: Iterator[Any]) -> int:
    """Count the items of an iterator (e.g. ``module.parameters()``)."""
    return sum(1 for _ in params)


def _distributed() -> bool:
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized()


class Model(Generic[_In, _Out]):
    """A module registered with the active run.

    Attributes:
        module: the wrapped module (wrapped in DistributedDataParallel when
            torch.distributed is initialized and ``should_distribute``).
        epoch: the number of epochs trained.
        checkpoint: saves and loads the module's (and optimizer's) state.
        mixed_precision: whether the forward runs under autocast.
        autocast_dtype: the autocast dtype (float16 on CUDA, where the loss
            is scaled, bfloat16 elsewhere).
    """

    def __init__(
        self,
        module: nn.Module,
        name: str = '',
        device: torch.device | str | None = None,
        checkpoint: CheckpointProtocol | None = None,
        mixed_precision: bool = False,
        should_compile: bool = False,
        should_distribute: bool = True,
    ) -> None:
        """Args:
            module: the module to wrap; it must not belong to another Model.
            name: the model's name; default: the module's class name (with
                a suffix if a model of this run already has it).
            device: where to move the module; default: the current
                accelerator, else CPU.
            checkpoint: saving and loading; default: a LocalCheckpoint.
            mixed_precision: run the forward under autocast (float16 on
                CUDA, bfloat16 on CPU).
            should_compile: run the forward through ``torch.compile``.
            should_distribute: wrap the module in DistributedDataParallel
                when torch.distributed is initialized.

        Raises:
            NoActiveExperimentError: outside a run.
            TypeError: if ``module`` is not an nn.Module.
            ModuleAlreadyRegisteredError: if the module has a Model.
            NameAlreadyRegisteredError: if the name is taken in this run.
            InvalidNameError: if the name cannot be a folder name.
        """  # noqa: D205
        run = scope.require_run()
        if not isinstance(module, nn.Module):
            msg = f'Expected an nn.Module, got {type(module).__name__}.'
            raise TypeError(msg)
        if name:
            self._name = naming.validate_name(name, 'model name')
        else:
            default = naming.validate_name(type(module).__name__, 'model name')
            self._name = run.metadata_manager.free_name(default)
        self._created_at = datetime.datetime.now()
        self.epoch = 0
        self.mixed_precision = mixed_precision
        self._device = torch.device(device) if device else default_device()
        # float16 on CUDA (with loss scaling), bfloat16 elsewhere
        self.autocast_dtype = (
            torch.float16 if self._device.type == 'cuda' else torch.bfloat16
        )
        self.module = self.prepare_module(module, should_distribute)
        self._forward: Callable[..., Any] = self.module
        if should_compile:
            self._forward = torch.compile(self.module)
        if checkpoint is None:
            from drytorch.lib.checkpoints import LocalCheckpoint

            checkpoint = LocalCheckpoint()
        self.checkpoint: CheckpointProtocol = checkpoint
        self.register()
        checkpoint.bind_model(self)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(name={self._name})'

    @property
    def created_at(self) -> datetime.datetime:
        """When it was built."""
        return self._created_at

    @property
    def name(self) -> str:
        """The model's name."""
        return self._name

    @property
    def device(self) -> torch.device:
        """Where the module lives."""
        return self._device

    @property
    def unwrapped_module(self) -> nn.Module:
        """The user's module, without a DistributedDataParallel wrapper."""
        module = self.module
        if isinstance(
            module,
            nn.parallel.DistributedDataParallel | nn.DataParallel,
        ):
            return module.module
        return module

    def prepare_module(
        self, module: nn.Module, should_distribute: bool = True
    ) -> nn.Module:
        """Move the module to the device; wrap it for DDP if needed."""
        module = module.to(self._device)
        if should_distribute and _distributed():
            if self._device.type == 'cuda':
                module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
            device_ids = (
                [self._device.index]
                if self._device.index is not None
                else None
            )
            module = nn.parallel.DistributedDataParallel(
                module, device_ids=device_ids
            )
        return module

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The autocast context of the forward (a no-op when disabled)."""
        if not self.mixed_precision:
            return contextlib.nullcontext()
        return torch.autocast(self._device.type, dtype=self.autocast_dtype)

    def __call__(self, inputs: _In) -> _Out:
        """Run the module (under autocast with mixed precision)."""
        if self.mixed_precision:
            with torch.autocast(self._device.type, dtype=self.autocast_dtype):
                return self._forward(inputs)
        return self._forward(inputs)

    def increment_epoch(self) -> None:
        """Advance the epoch counter by one."""
        self.epoch += 1

    def update_parameters(self) -> None:
        """Hook called after each optimizer step (no-op here)."""

    def save_state(self) -> None:
        """Save the module's state at the current epoch."""
        self.checkpoint.save()

    def load_state(self, epoch: int = -1) -> None:
        """Load the module's state of an epoch (-1: the last saved)."""
        self.checkpoint.load(epoch=epoch)

    def register(self) -> None:
        """Register the module with the active run."""
        register.register_model(self)

    def unregister(self) -> None:
        """Unregister the module, so that another Model may wrap it."""
        register.unregister_model(self)
