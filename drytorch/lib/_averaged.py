"""Model averages: a model that keeps a running average of its weights.

:class:`ModelAverage` keeps a ``torch.optim.swa_utils.AveragedModel``
beside the trained module. The averages by their drytorch 0.1.0rc11 names
are built on it; they average the buffers too (batch-norm statistics
included) and choose their averaging function: :class:`EMAModel` keeps an
exponential moving average updated after every optimizer step;
:class:`SWAModel` adds the weights at the end of every epoch from
``start_epoch`` on (stochastic weight averaging), and evaluates the trained
weights until the average has any.

Evaluations (which put the module in eval mode) run the average, training
runs the trained module, as for every ModelAverage. One difference from
0.1.0rc11: ``averaged_module`` is torch's ``AveragedModel`` (the wrapper),
also reachable as ``exec_averaged_module``.

Import these from :mod:`drytorch.lib.models`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

import torch
from torch import nn

from drytorch.core.protocols import CheckpointProtocol
from drytorch.lib._model import Model
from drytorch.lib._positional import reference_positionals

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ['AveragedModel', 'EMAModel', 'ModelAverage', 'SWAModel']

_In = TypeVar('_In')
_Out = TypeVar('_Out')


_SWA_MULTI_AVG = torch.optim.swa_utils.get_swa_multi_avg_fn()


@torch.no_grad()
def _running_mean_update(
    averaged: torch.optim.swa_utils.AveragedModel, module: nn.Module
) -> None:
    """``averaged.update_parameters(module)`` for the default running mean.

    The result is torch's (the first call copies, later calls take the
    running mean; without ``use_buffers`` the buffers are copied), but the
    count is read from its CPU buffer as a Python number and passed as
    such: torch's own update copies the count tensor to the parameters'
    device at every step (a blocking copy on an accelerator), and reads it
    on the host when it lives on the device.
    """
    n_averaged = averaged.n_averaged
    count = int(n_averaged)
    target = averaged.module
    if averaged.use_buffers:
        pairs = zip(
            [*target.parameters(), *target.buffers()],
            [*module.parameters(), *module.buffers()],
            strict=True,
        )
    else:
        pairs = zip(target.parameters(), module.parameters(), strict=True)
    groups: dict[Any, tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
    for mean, current in pairs:
        means, currents = groups.setdefault(
            (mean.device, mean.dtype), ([], [])
        )
        means.append(mean.detach())
        currents.append(current.detach())
    for means, currents in groups.values():
        if count == 0:
            torch._foreach_copy_(means, currents)
        elif means[0].is_floating_point() or means[0].is_complex():
            _SWA_MULTI_AVG(means, currents, count)
        else:  # integer buffers: torch's formula, truncated
            for mean, current in zip(means, currents, strict=True):
                mean.copy_(mean + (current - mean) / (count + 1))
    if not averaged.use_buffers:
        for mean, current in zip(
            target.buffers(), module.buffers(), strict=True
        ):
            mean.copy_(current)
    n_averaged += 1


class _ModuleAndAverage(nn.Module):
    """Holds a module and its average, so both are saved together."""

    def __init__(
        self,
        module: nn.Module,
        averaged_module: torch.optim.swa_utils.AveragedModel,
    ) -> None:
        super().__init__()
        self.module = module
        self.averaged_module = averaged_module


class ModelAverage(Model[_In, _Out]):
    """A model that also keeps a running average of its module's weights.

    The average is a ``torch.optim.swa_utils.AveragedModel`` built from the
    module and updated by :meth:`update_parameters`, which the Trainer calls
    after each optimizer step.

    The module's mode chooses the weights of a forward: in training mode
    (set by the Trainer) the trained module runs, so the optimizer trains
    it; in eval mode (set by Validation, Test and Diagnostic) the averaged
    copy runs, in eval mode too. The mode decides, rather than inference
    mode, because it already decides how dropout and batch norm behave, and
    so ``model.module.eval()`` evaluates the average under ``no_grad`` as
    well as under ``inference_mode``. The trained weights stay reachable as
    ``model.module``.

    Checkpoints save and load the module and its average together (see
    :attr:`state_module`); the average's count is part of the state.

    Attributes:
        averaged_module: the running average of the module.
    """

    def __init__(
        self,
        torch_module: nn.Module,
        /,
        name: str = '',
        device: torch.device | str | None = None,
        checkpoint: CheckpointProtocol | None = None,
        mixed_precision: bool = False,
        avg_fn: Callable[..., torch.Tensor] | None = None,
        multi_avg_fn: Callable[..., None] | None = None,
        use_buffers: bool = False,
    ) -> None:
        """Args:
            torch_module: the module to train and average.
            name: the model's name; default: the module's class name.
            device: where to move the module; default: the current
                accelerator, else CPU.
            checkpoint: saving and loading; default: a new LocalCheckpoint
                for this model.
            mixed_precision: run the forward under autocast.
            avg_fn: averaging function of one parameter, as in
                ``AveragedModel``; default: the running mean.
            multi_avg_fn: in-place averaging function of parameter lists,
                as in ``AveragedModel``; default: the running mean.
            use_buffers: average the buffers too (instead of copying the
                module's buffers at each update).

        Raises:
            ValueError: if both avg_fn and multi_avg_fn are given.
            NoActiveRunError: outside a run.
            TypeError: if ``torch_module`` is not an nn.Module.
        """  # noqa: D205
        if avg_fn is not None and multi_avg_fn is not None:
            msg = 'Expected at most one of avg_fn and multi_avg_fn, got both.'
            raise ValueError(msg)
        super().__init__(
            torch_module,
            name=name,
            device=device,
            checkpoint=checkpoint,
            mixed_precision=mixed_precision,
        )
        trained = self.unwrapped_module
        try:
            # built without a device: the count buffer stays on the CPU,
            # where reading it does not wait for the accelerator
            self.averaged_module = torch.optim.swa_utils.AveragedModel(
                trained,
                avg_fn=avg_fn,
                multi_avg_fn=multi_avg_fn,
                use_buffers=use_buffers,
            )
        except BaseException:
            self.unregister()
            raise
        self._default_average = avg_fn is None and multi_avg_fn is None
        self._state_module = _ModuleAndAverage(trained, self.averaged_module)

    @property
    def state_module(self) -> nn.Module:
        """What checkpoints save: the module and its average.

        Its state dict holds the module's entries under ``module.`` and the
        average's under ``averaged_module.``.
        """
        return self._state_module

    def __call__(self, inputs: _In) -> _Out:
        """Run the trained module in training mode, else the average."""
        if self.module.training:
            forward = self._forward
        else:
            averaged = self.averaged_module
            if averaged.training:
                averaged.eval()
            forward = averaged
        if self.mixed_precision:
            with self.autocast():
                return forward(inputs)
        return forward(inputs)

    def update_parameters(self) -> None:
        """Add the module's current weights to the average."""
        if self._default_average:
            _running_mean_update(self.averaged_module, self.unwrapped_module)
        else:
            self.averaged_module.update_parameters(self.unwrapped_module)


class ModelOptions(TypedDict, total=False):
    """The options of a model that the 0.1.0rc11 averages pass on.

    Keys:
        device: where to move the module; default: the current
            accelerator, else CPU.
        checkpoint: saving and loading; default: a LocalCheckpoint.
        mixed_precision: run the forward under autocast (default False).
    """

    device: torch.device | str | None
    checkpoint: CheckpointProtocol | None
    mixed_precision: bool


class AveragedModel(ModelAverage[_In, _Out], abc.ABC):
    """A model average whose subclass chooses the averaging function."""

    @reference_positionals('device', 'checkpoint', 'mixed_precision')
    def __init__(
        self,
        torch_module: nn.Module,
        /,
        name: str = '',
        **options: Unpack[ModelOptions],
    ) -> None:
        """Args:
            torch_module: the module to train and average.
            name: the model's name; default: the module's class name.
            **options: see :class:`ModelOptions`.

        Raises:
            NoActiveRunError: outside a run.
            TypeError: if ``torch_module`` is not an nn.Module, or for a
                keyword argument that is not an option.
        """  # noqa: D205
        super().__init__(
            torch_module,
            name=name,
            multi_avg_fn=self._get_multi_avg_fn(),
            use_buffers=True,
            **options,
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

    @reference_positionals('device', 'checkpoint', 'mixed_precision', 'decay')
    def __init__(
        self,
        torch_module: nn.Module,
        /,
        name: str = '',
        *,
        decay: float = 0.999,
        **options: Unpack[ModelOptions],
    ) -> None:
        """Args:
            torch_module: the module to train and average.
            name: the model's name; default: the module's class name.
            decay: the weight of the average at each update, in [0, 1).
            **options: see :class:`ModelOptions`.

        Raises:
            ValueError: if decay is not in [0, 1).
        """  # noqa: D205
        if isinstance(decay, bool) or not 0 <= decay < 1:
            msg = f'Expected 0 <= decay < 1, got {decay!r}.'
            raise ValueError(msg)
        self.decay = decay
        super().__init__(torch_module, name, **options)

    def _get_multi_avg_fn(self) -> Callable[..., None]:
        return torch.optim.swa_utils.get_ema_multi_avg_fn(decay=self.decay)


class SWAModel(AveragedModel[_In, _Out]):
    """Stochastic weight averaging: one update per epoch from start_epoch.

    Attributes:
        start_epoch: the first epoch whose final weights are averaged.
    """

    @reference_positionals('device', 'checkpoint', 'mixed_precision')
    def __init__(
        self,
        torch_module: nn.Module,
        /,
        start_epoch: int,
        name: str = '',
        **options: Unpack[ModelOptions],
    ) -> None:
        """Args:
            torch_module: the module to train and average.
            start_epoch: the first epoch whose final weights are averaged.
            name: the model's name; default: the module's class name.
            **options: see :class:`ModelOptions`.

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
        super().__init__(torch_module, name, **options)

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
