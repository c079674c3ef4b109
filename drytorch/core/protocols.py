"""Structural types that the library's parts agree on.

The core and the trackers depend on these protocols, never on the concrete
classes of ``drytorch.lib``, so users can bring their own implementations.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableSequence
from typing import (
    Any,
    NamedTuple,
    Protocol,
    TypeAlias,
    TypeVar,
    runtime_checkable,
)

import torch
from torch.utils import data

__all__ = [
    'CheckpointProtocol',
    'GradientOpProtocol',
    'InputType',
    'LearningProtocol',
    'LoaderProtocol',
    'LossProtocol',
    'ModelProtocol',
    'ModuleProtocol',
    'MonitorProtocol',
    'ObjectiveProtocol',
    'OutputType',
    'SchedulerProtocol',
    'TargetType',
    'Tensors',
    'TrainerProtocol',
]

Tensors: TypeAlias = torch.Tensor | MutableSequence[torch.Tensor]
# NamedTuple is a function at run time: the union must stay a string
InputType: TypeAlias = 'Tensors | NamedTuple'
TargetType: TypeAlias = 'Tensors | NamedTuple'
OutputType: TypeAlias = Any

_Data_co = TypeVar('_Data_co', covariant=True)
_In_contra = TypeVar('_In_contra', contravariant=True)
_Out_co = TypeVar('_Out_co', covariant=True)
_Out_contra = TypeVar('_Out_contra', contravariant=True)
_Tgt_contra = TypeVar('_Tgt_contra', contravariant=True)


class LoaderProtocol(Protocol[_Data_co]):
    """What runners need from a data loader.

    The attributes are read-only here, so that a loader whose batch size is
    an ``int`` (not ``int | None``) conforms.
    """

    @property
    def batch_size(self) -> int | None:
        """Samples per batch, if known."""
        ...

    @property
    def dataset(self) -> data.Dataset[Any]:
        """The dataset."""
        ...

    @property
    def sampler(self) -> data.Sampler[Any] | Iterable[Any]:
        """The sampler."""
        ...

    def __iter__(self) -> Iterator[_Data_co]:
        """Iterate over batches."""
        ...

    def __len__(self) -> int:
        """The number of batches."""
        ...


class ModuleProtocol(Protocol[_In_contra, _Out_co]):
    """A module's forward."""

    def forward(self, inputs: _In_contra, /) -> _Out_co:
        """Compute the outputs."""
        ...


@runtime_checkable
class CheckpointProtocol(Protocol):
    """Saving and loading a model (and optimizer) state."""

    def bind_model(self, model: Any, /) -> None:
        """Attach the model to save and load."""
        ...

    def bind_optimizer(self, optimizer: torch.optim.Optimizer, /) -> None:
        """Attach the optimizer to save and load."""
        ...

    def save(self) -> None:
        """Save the state at the model's epoch."""
        ...

    def load(self, epoch: int = -1) -> None:
        """Load the state of an epoch (-1: the last saved)."""
        ...


@runtime_checkable
class ModelProtocol(Protocol[_In_contra, _Out_co]):
    """A named module with an epoch counter, a device and a checkpoint."""

    module: torch.nn.Module
    epoch: int
    checkpoint: CheckpointProtocol
    mixed_precision: bool

    def __call__(self, inputs: _In_contra, /) -> _Out_co:
        """Run the module."""
        ...

    @property
    def device(self) -> torch.device:
        """Where the module lives."""
        ...

    @property
    def name(self) -> str:
        """The model's name."""
        ...

    def increment_epoch(self) -> None:
        """Advance the epoch counter."""
        ...

    def update_parameters(self) -> None:
        """Hook called after each optimizer step."""
        ...


class SchedulerProtocol(Protocol):
    """The learning rate at an epoch, from the base rate."""

    def __call__(self, base_lr: float, epoch: int, /) -> float:
        """The scheduled learning rate."""
        ...


class GradientOpProtocol(Protocol):
    """An operation on gradients between backward and step."""

    def __call__(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Change the gradients in place."""
        ...


class LearningProtocol(Protocol):
    """How to optimize (read-only: a frozen dataclass conforms)."""

    @property
    def optimizer_cls(self) -> type[torch.optim.Optimizer]:
        """The torch optimizer class."""
        ...

    @property
    def base_lr(self) -> float | dict[str, float]:
        """The base learning rate(s)."""
        ...

    @property
    def scheduler(self) -> SchedulerProtocol:
        """The learning-rate schedule."""
        ...

    @property
    def optimizer_defaults(self) -> dict[str, Any]:
        """Keyword arguments of the optimizer."""
        ...

    @property
    def gradient_op(self) -> GradientOpProtocol:
        """The operation on gradients before each step."""
        ...


@runtime_checkable
class ObjectiveProtocol(Protocol[_Out_contra, _Tgt_contra]):
    """Metrics accumulated over a pass."""

    def update(self, outputs: _Out_contra, targets: _Tgt_contra, /) -> Any:
        """Accumulate a batch."""
        ...

    def compute(self) -> Mapping[str, torch.Tensor] | torch.Tensor | None:
        """The accumulated value(s)."""
        ...

    def reset(self) -> Any:
        """Forget the accumulated batches."""
        ...


@runtime_checkable
class LossProtocol(Protocol[_Out_contra, _Tgt_contra]):
    """An objective that also returns the value to minimize."""

    def update(self, outputs: _Out_contra, targets: _Tgt_contra, /) -> Any:
        """Accumulate a batch."""
        ...

    def compute(self) -> Mapping[str, torch.Tensor] | torch.Tensor | None:
        """The accumulated value(s)."""
        ...

    def reset(self) -> Any:
        """Forget the accumulated batches."""
        ...

    def forward(
        self, outputs: _Out_contra, targets: _Tgt_contra, /
    ) -> torch.Tensor:
        """Accumulate a batch and return the loss to minimize."""
        ...


class MonitorProtocol(Protocol):
    """Something whose metrics can be monitored."""

    model: Any

    @property
    def name(self) -> str:
        """The monitor's name."""
        ...

    @property
    def computed_metrics(self) -> Mapping[str, float]:
        """The metrics of the last pass."""
        ...


@runtime_checkable
class TrainerProtocol(Protocol):
    """A trainer, as hooks see it."""

    model: Any
    learning_schema: LearningProtocol
    objective: Any
    validation: MonitorProtocol | None

    @property
    def name(self) -> str:
        """The trainer's name."""
        ...

    @property
    def computed_metrics(self) -> Mapping[str, float]:
        """The metrics of the last epoch."""
        ...

    @property
    def terminated(self) -> bool:
        """Whether training was terminated."""
        ...

    @property
    def current_scheduler(self) -> SchedulerProtocol:
        """The scheduler in use (it may differ from the schema's)."""
        ...

    def train(self, n_epochs: int) -> None:
        """Train for some epochs."""
        ...

    def terminate_training(self, reason: str) -> None:
        """Stop training at the end of the epoch."""
        ...

    def save_checkpoint(self) -> None:
        """Save model and optimizer."""
        ...

    def load_checkpoint(self, epoch: int = -1) -> None:
        """Load model and optimizer."""
        ...

    def update_learning_rate(
        self,
        base_lr: float | dict[str, float] | None = None,
        scheduler: SchedulerProtocol | None = None,
    ) -> None:
        """Change the learning rate or the scheduler."""
        ...
