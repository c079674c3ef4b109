"""Evaluations: passes in inference mode, with the module in eval mode.

The module's training mode is restored afterwards, so an evaluation run
between two training epochs never leaves dropout or batch norm in the wrong
mode.

Under torch.distributed every process evaluates its share of the samples
(no sample twice, so processes may run different numbers of batches) with
the buffers of the first process, and the metrics are reduced across
processes once, at the end of the pass.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

import torch
from torch import nn

from drytorch.core import events, scope
from drytorch.core.protocols import (
    LoaderProtocol,
    ModelProtocol,
    ObjectiveProtocol,
)
from drytorch.lib import runners

__all__ = ['Diagnostic', 'EvaluationMixin', 'Test', 'Validation']

_In = TypeVar('_In')
_Tgt = TypeVar('_Tgt')
_Out = TypeVar('_Out')


def _sync_buffers(module: Any) -> None:
    """Give every process the buffers (e.g. batch norm statistics) of rank 0.

    This is what DistributedDataParallel does at the first forward after
    training; evaluations bypass the wrapper (see ``Model.__call__``), so it
    is done here, once, before the pass.
    """
    if not isinstance(module, nn.parallel.DistributedDataParallel):
        return
    enabled = getattr(
        module,
        'forward_sync_buffers',
        getattr(module, 'broadcast_buffers', True),
    )
    buffers = list(module.module.buffers())
    if not enabled or not buffers:
        return
    dist = torch.distributed
    group = module.process_group  # the default group unless one was given
    with torch.no_grad():
        for buffer in buffers:
            dist.broadcast(
                buffer, src=dist.get_global_rank(group, 0), group=group
            )


class EvaluationMixin:
    """Run the pass in inference mode with the module in eval mode."""

    model: Any

    def __call__(self, store_outputs: bool = False) -> None:
        """Run one evaluation pass."""
        module = self.model.module
        _sync_buffers(module)
        was_training = module.training
        module.eval()
        try:
            with torch.inference_mode():
                super().__call__(store_outputs)  # type: ignore[misc]
        finally:
            module.train(was_training)


class Diagnostic(
    EvaluationMixin,
    runners.ModelRunnerWithLogs[_In, _Tgt, _Out],
    Generic[_In, _Tgt, _Out],
):
    """An evaluation whose metrics are not logged (no MetricEvent).

    Useful to inspect a model without adding rows to the run's metrics.
    It is a ModelRunnerWithLogs, as in drytorch 0.1.0rc5, so that code
    testing for one still accepts it; only the publishing is turned off.
    """

    publishes_metrics: ClassVar[bool] = False


class Validation(
    EvaluationMixin,
    runners.ModelRunnerWithLogs[_In, _Tgt, _Out],
    Generic[_In, _Tgt, _Out],
):
    """An evaluation pass whose metrics are logged."""

    def __init__(
        self,
        model: ModelProtocol[_In, _Out],
        name: str = '',
        *,
        loader: LoaderProtocol[tuple[_In, _Tgt]],
        metric: ObjectiveProtocol[_Out, _Tgt],
    ) -> None:
        """Args:
        model: the model to evaluate.
        name: the actor's name; default: the class name.
        loader: the loader of (inputs, targets) batches.
        metric: the metrics (or loss) to compute.
        """  # noqa: D205
        super().__init__(model, name, loader=loader, objective=metric)


class Test(Validation[_In, _Tgt, _Out]):
    """A validation pass between StartTestEvent and EndTestEvent."""

    def __call__(self, store_outputs: bool = False) -> None:
        """Run the test."""
        model_name = self.model.name
        scope.publish(
            events.StartTestEvent(source_name=self.name, model_name=model_name)
        )
        super().__call__(store_outputs)
        scope.publish(
            events.EndTestEvent(source_name=self.name, model_name=model_name)
        )
