"""Runners: one pass of a model over a loader.

The per-batch loop does no avoidable work: no event per batch, no metric
reaching the host per batch. Metrics accumulate on the device and are
computed once at the end of the pass. Progress reaches the trackers through
the callbacks of :class:`drytorch.core.events.ProgressCallback` (their
contract is documented there), called at most ``progress_hz`` times per
second.

The classes, from the most general: :class:`ModelCaller` (an actor of the
run: a name and a model), :class:`ModelRunner` (the pass over a loader),
:class:`ModelRunnerWithObjective` (accumulates an objective during the
pass) and :class:`ModelRunnerWithLogs` (the same, publishing the metrics
at the end of each pass). The last one differs only in the class attribute
:attr:`ModelRunnerWithObjective.publishes_metrics`; it stays a class of its
own because it is part of the public API and trainers and evaluations are
its instances.
"""

from __future__ import annotations

import abc
import copy
import datetime
import sys
import time
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

import torch

from drytorch.core import events, exceptions, naming, registering, scope
from drytorch.core.protocols import (
    LoaderProtocol,
    ModelProtocol,
    ObjectiveProtocol,
)
from drytorch.lib import objectives
from drytorch.utils import apply_ops

__all__ = [
    'ModelCaller',
    'ModelRunner',
    'ModelRunnerWithLogs',
    'ModelRunnerWithObjective',
    'SupportsSync',
]

_In = TypeVar('_In')
_Tgt = TypeVar('_Tgt')
_Out = TypeVar('_Out')

_PROGRESS_CHECK_EVERY = 8  # batches between two looks at the clock


@runtime_checkable
class SupportsSync(Protocol):
    """An objective that can be synchronized across processes."""

    def sync(self) -> None:
        """Reduce the accumulated state across processes."""


def _world_size() -> int:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def _rank() -> int:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return 0


def _set_sampler_epoch(loader: Any, epoch: int) -> None:
    """Reshuffle a DistributedSampler differently at every epoch.

    It draws the same permutation at every pass unless told the epoch;
    every process tells it the same one, so they still share the samples
    out without overlap.
    """
    sampler = getattr(loader, 'sampler', None)
    if isinstance(sampler, torch.utils.data.DistributedSampler):
        sampler.set_epoch(epoch)


class ModelCaller(Generic[_In, _Out], abc.ABC):
    """Something that calls a model: an actor of the run.

    Subclasses implement :meth:`__call__` and call :meth:`_register_actor`
    at its start, so that the first call documents the actor in the run.

    Attributes:
        model: the model it acts on.
    """

    def __init__(
        self, model: ModelProtocol[_In, _Out], name: str = ''
    ) -> None:
        """Args:
        model: the model to call.
        name: the actor's name; default: the class name.
        """  # noqa: D205
        self.model = model
        self._name = naming.validate_name(
            name or type(self).__name__, 'actor name'
        )
        self._created_at = datetime.datetime.now()

    @property
    def created_at(self) -> datetime.datetime:
        """When it was built."""
        return self._created_at

    @property
    def name(self) -> str:
        """The actor's name."""
        return self._name

    def __repr__(self) -> str:
        return f'{self._name}({self.model.name})'

    def _register_actor(self) -> None:
        """Document this actor in the run (only the first call does)."""
        registering.register_actor(self, self.model)

    @abc.abstractmethod
    def __call__(self) -> Any:
        """Act on the model."""


class ModelRunner(ModelCaller[_In, _Out], Generic[_In, _Tgt, _Out]):
    """One pass of a model over a loader, optionally storing the outputs.

    Attributes:
        loader: the loader of (inputs, targets) batches.
        outputs_list: the outputs of the last pass (when stored), on CPU.
        progress_hz: how many progress updates per second at most.
    """

    max_stored_output: int = sys.maxsize
    progress_hz: float = 4.0

    def __init__(
        self,
        model: ModelProtocol[_In, _Out],
        name: str = '',
        *,
        loader: LoaderProtocol[tuple[_In, _Tgt]],
    ) -> None:
        """Args:
        model: the model to run.
        name: the actor's name; default: the class name.
        loader: the loader of (inputs, targets) batches.
        """  # noqa: D205
        super().__init__(model, name)
        self.loader: Any = loader
        self.outputs_list: list[Any] = []

    @property
    def computed_metrics(self) -> Mapping[str, float]:
        """The metrics of the last pass (none for a plain runner)."""
        return {}

    def __call__(self, store_outputs: bool = False) -> None:
        """Run one pass over the loader.

        Args:
            store_outputs: keep each batch's outputs, detached, on CPU.
        """
        self._register_actor()
        self.outputs_list.clear()
        self._run_epoch(store_outputs)

    def _reset(self) -> None:
        """Prepare the state of a new pass (hook for subclasses)."""

    def _run_batch(self, inputs: Any, targets: Any) -> Any:
        """Forward one batch and accumulate what is needed."""
        return self.model(inputs)

    def _progress_metrics(self) -> Mapping[str, float]:
        """The metrics so far, for a progress update (may sync once)."""
        return {}

    def _finish_pass(self) -> None:
        """End of the pass: reduce across processes if needed."""

    def _run_epoch(self, store_outputs: bool) -> None:
        loader = self.loader
        n_iter = len(loader)
        dataset_size = len(loader.dataset)
        event = events.IterateBatchEvent(
            source_name=self._name,
            batch_size=loader.batch_size,
            n_iter=n_iter,
            dataset_size=dataset_size,
        )
        scope.publish(event)
        self._reset()
        callbacks = event.push_updates
        device = self.model.device
        run_batch = self._run_batch
        store = self._store
        n_processes = _world_size()
        _set_sampler_epoch(loader, self.model.epoch)
        interval = 1.0 / self.progress_hz
        next_push = time.monotonic() + interval
        pending = 0
        for batch in loader:
            inputs, targets = apply_ops.apply_to(batch, device)
            outputs = run_batch(inputs, targets)
            if store_outputs:
                store(outputs)
            if callbacks:
                pending += 1
                if pending % _PROGRESS_CHECK_EVERY == 0:
                    now = time.monotonic()
                    if now >= next_push:
                        next_push = now + interval
                        event.update(
                            self._progress_metrics(), n_processes, pending
                        )
                        pending = 0
        self._finish_pass()
        if callbacks:
            event.update(self.computed_metrics, n_processes, pending)
        if store_outputs:
            self._gather_outputs()

    def _store(self, outputs: Any) -> None:
        if len(self.outputs_list) >= self.max_stored_output // _world_size():
            return
        try:
            self.outputs_list.append(apply_ops.apply_cpu_detach(outputs))
        except (exceptions.DryTorchError, TypeError) as error:
            warnings.warn(
                exceptions.CannotStoreOutputWarning(error), stacklevel=3
            )

    def _gather_outputs(self) -> None:
        if _world_size() == 1:
            return
        dist = torch.distributed
        gathered: list[Any] = [None] * _world_size() if _rank() == 0 else []
        try:
            dist.gather_object(
                self.outputs_list, gathered if _rank() == 0 else None, dst=0
            )
        except RuntimeError as error:
            warnings.warn(
                exceptions.DistributedStorageWarning(error), stacklevel=3
            )
            return
        if _rank() == 0:
            self.outputs_list = [out for part in gathered for out in part]
        else:
            self.outputs_list = []


class ModelRunnerWithObjective(ModelRunner[_In, _Tgt, _Out]):
    """A runner that accumulates an objective (metrics, loss) per pass.

    Attributes:
        objective: this runner's own copy of the objective.
        publishes_metrics: whether each pass ends with a
            :class:`~drytorch.core.events.MetricEvent` (class attribute;
            True for :class:`ModelRunnerWithLogs`).
    """

    publishes_metrics: ClassVar[bool] = False

    def __init__(
        self,
        model: ModelProtocol[_In, _Out],
        name: str = '',
        *,
        loader: LoaderProtocol[tuple[_In, _Tgt]],
        objective: ObjectiveProtocol[_Out, _Tgt],
    ) -> None:
        """Args:
        model: the model to run.
        name: the actor's name; default: the class name.
        loader: the loader of (inputs, targets) batches.
        objective: the metrics to compute; copied, so runners never
            share state.
        """  # noqa: D205
        super().__init__(model, name, loader=loader)
        self.objective: Any = copy.deepcopy(objective)
        self.objective.reset()
        self._computed: Mapping[str, float] = {}

    @property
    def computed_metrics(self) -> Mapping[str, float]:
        """The metrics of the last pass, as Python floats."""
        return self._computed

    def _reset(self) -> None:
        self.objective.reset()
        self._computed = {}

    def _run_batch(self, inputs: Any, targets: Any) -> Any:
        outputs = self.model(inputs)
        self.objective.update(outputs, targets)
        return outputs

    def _progress_metrics(self) -> Mapping[str, float]:
        if _world_size() > 1:
            # computing may be a collective operation (torchmetrics syncs on
            # compute): only at the end of the pass, when every rank does it
            return {}
        return objectives.compute_metrics(self.objective)

    def _finish_pass(self) -> None:
        if _world_size() > 1:
            if getattr(self.objective, 'sync_on_compute', False):
                pass  # a torchmetrics metric: compute() syncs by itself
            elif isinstance(self.objective, SupportsSync):
                self.objective.sync()
            else:
                warnings.warn(
                    exceptions.ObjectiveSyncWarning(
                        'The objective has no sync() method.',
                        'Metrics are computed on this process only.',
                    ),
                    stacklevel=3,
                )
        self._computed = objectives.compute_metrics(self.objective)
        if self.publishes_metrics:
            scope.publish(
                events.MetricEvent(
                    model_name=self.model.name,
                    source_name=self._name,
                    epoch=self.model.epoch,
                    metrics=dict(self._computed),
                )
            )


class ModelRunnerWithLogs(ModelRunnerWithObjective[_In, _Tgt, _Out]):
    """A runner that publishes its metrics at the end of every pass."""

    publishes_metrics: ClassVar[bool] = True
