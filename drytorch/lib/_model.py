"""The Model: a module with a name, an epoch counter, a device, checkpoints.

Import it from :mod:`drytorch.lib.models`.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import torch
from torch import nn

from drytorch.core import events, naming, registering, scope
from drytorch.core.protocols import CheckpointProtocol
from drytorch.lib import _shapes
from drytorch.utils import model_summary, repr_utils

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
            module: the module to wrap; no Model of another run may wrap it.
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
            NoActiveRunError: outside a run.
            TypeError: if ``module`` is not an nn.Module.
            ModuleAlreadyRegisteredError: if a Model of another run wraps
                the module. In the same run, the new Model replaces the
                old one wrapping the module or having the name (see
                :mod:`drytorch.core.registering`).
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
            # a cell run again wraps the same module: keep the old name
            previous = registering.registered_model(module)
            self._name = (
                previous.name
                if previous is not None
                else run.metadata_manager.free_name(default)
            )
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
        # Without gradients the DDP wrapper has nothing to do but sync
        # buffers in a collective: evaluations call the module itself, so
        # that processes may run different numbers of batches.
        self._no_grad_forward: Callable[..., Any] | None = None
        unwrapped = self.unwrapped_module
        if unwrapped is not self.module:
            self._no_grad_forward = (
                torch.compile(unwrapped) if should_compile else unwrapped
            )
        self._compiled = should_compile
        self._output_shapes: dict[str, str] = {}
        self._input_shape = ''
        self._plain_forwards: tuple[Any, Any] | None = None
        if not should_compile:
            # hooks inside a compiled graph would cost a recompilation
            self._watch_first_forward()
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
        """Run the module (under autocast with mixed precision).

        With gradients disabled (evaluations), a DistributedDataParallel
        wrapper is bypassed: no collective operation runs per batch.
        """
        forward = self._forward
        if self._no_grad_forward is not None and not torch.is_grad_enabled():
            forward = self._no_grad_forward
        if self.mixed_precision:
            with torch.autocast(self._device.type, dtype=self.autocast_dtype):
                return forward(inputs)
        return forward(inputs)

    def increment_epoch(self) -> None:
        """Advance the epoch counter by one."""
        self.epoch += 1

    @property
    def output_shapes(self) -> dict[str, str]:
        """Output shape of each sub-module in the first forward pass.

        Keyed by qualified sub-module name, '' for the model's own output;
        empty until the model ran once, and always with ``should_compile``.
        """
        return dict(self._output_shapes)

    def summary(
        self, max_rows: int = model_summary.MAX_ROWS
    ) -> model_summary.ModelSummary:
        """The module's layers, parameter counts, sizes and shapes.

        The counts are the current ones (layers frozen since are counted
        frozen); the output shapes are those of the first forward pass.

        Args:
            max_rows: the most sub-modules listed (the totals count all).
        """
        summary = model_summary.summarize(self.unwrapped_module, max_rows)
        if self._output_shapes:
            summary = summary.with_shapes(
                self._output_shapes,
                self._input_shape,
                self._output_shapes.get('', ''),
            )
        precision = (
            _dtype_name(self.autocast_dtype) + ' autocast'
            if self.mixed_precision
            else 'off'
        )
        details = [
            ('Device', str(self._device)),
            ('Mixed precision', precision),
        ]
        if self.unwrapped_module is not self.module:
            details.append(('Wrapped in', type(self.module).__name__))
        if self._compiled:
            details.append(('Compiled', 'yes (output shapes not recorded)'))
        return summary.with_details(*details)

    def _watch_first_forward(self) -> None:
        """Record the output shapes during the first forward pass.

        Until a forward succeeds, the forwards go through hooks that note
        each sub-module's output shape; then the plain forwards come back,
        so later batches pay nothing. No extra forward is run.
        """
        root = self.unwrapped_module
        plain = (self._forward, self._no_grad_forward)
        self._plain_forwards = plain
        self._forward = _shapes.FirstForward(self, plain[0], root)
        if plain[1] is not None:
            self._no_grad_forward = _shapes.FirstForward(self, plain[1], root)

    def _receive_shapes(self, recorder: _shapes.ShapeRecorder) -> None:
        """Keep the first forward's shapes and tell the run (once)."""
        plain = self._plain_forwards
        if plain is None:
            return
        self._plain_forwards = None
        self._forward, self._no_grad_forward = plain
        if not recorder.installed or '' not in recorder.shapes:
            return
        self._output_shapes = dict(recorder.shapes)
        self._input_shape = recorder.input_shape
        run = scope.active_run()
        entry = registering.ALL_MODULES.get(self.module)
        if run is None or entry is None or entry.run_key != run.key:
            return  # used outside its run: the shapes stay on the model
        scope.publish(
            events.ModelShapesEvent(
                model_name=self._name,
                shapes=self.output_shapes,
                input_shape=self._input_shape,
                summary=self.summary(),
            )
        )

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
        registering.register_model(self)

    def unregister(self) -> None:
        """Unregister the module, so that another Model may wrap it."""
        registering.unregister_model(self)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix('torch.')


@repr_utils.recursive_repr.register(Model)
def _repr_model(model: Model[Any, Any], *, depth: int | None = None) -> Any:
    """A model as its actors' metadata shows it.

    Its settings only: not the epoch, which is stale as soon as the actor
    is documented, and the autocast dtype only when mixed precision is on.
    """
    described: dict[str, Any] = {
        'class': type(model).__name__,
        'name': model.name,
        'module': type(model.unwrapped_module).__name__,
        'device': str(model.device),
        'mixed_precision': False,
    }
    if model.mixed_precision:
        described['mixed_precision'] = _dtype_name(model.autocast_dtype)
    checkpoint = getattr(model, 'checkpoint', None)
    if checkpoint is not None:
        described['checkpoint'] = repr(checkpoint)
    return described
