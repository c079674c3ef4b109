"""Reading a checkpoint into memory and checking it before it is applied.

:func:`load_streams` reads the files of an epoch (opened by
:mod:`drytorch.lib._checkpoint_files`) with the restricted unpickler into a
:class:`LoadedState`; :func:`check_module_state` and
:func:`optimizer_state_problem` tell beforehand whether a state fits, so
that a load that fails changes nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from drytorch.lib import _checkpoint_files as layout

__all__ = [
    'LoadedState',
    'check_module_state',
    'load_streams',
    'optimizer_state_problem',
    'torch_load',
]


@dataclasses.dataclass(frozen=True)
class LoadedState:
    """A checkpoint read into memory, not applied yet.

    Attributes:
        epoch: the checkpoint's epoch.
        location: where it was read from.
        module_state: the module's state dict.
        optimizer_state: the optimizer's state dict, if read.
        optimizer_problem: why the optimizer's state was not read, if it
            was asked for and not read.
        module_states: the states of the bound modules, by name.
    """

    epoch: int
    location: str
    module_state: Mapping[str, Any]
    optimizer_state: dict[str, Any] | None = None
    optimizer_problem: str | None = None
    module_states: Mapping[str, Mapping[str, Any]] = dataclasses.field(
        default_factory=dict
    )


def check_module_state(module: nn.Module, state: Mapping[str, Any]) -> None:
    """Raise if ``load_state_dict`` would fail on the module.

    ``load_state_dict`` copies the tensors that fit before it reports the
    ones that do not, so a mismatch is found beforehand.
    """
    if not isinstance(state, Mapping):
        msg = f'Expected a state dict, got {type(state).__name__}.'
        raise RuntimeError(msg)
    current = module.state_dict(keep_vars=True)
    missing = sorted(current.keys() - state.keys())
    unexpected = sorted(state.keys() - current.keys())
    wrong_shape = [
        f'{key}: expected {tuple(value.shape)}, got {tuple(state[key].shape)}'
        for key, value in current.items()
        if key in state
        and isinstance(value, torch.Tensor)
        and isinstance(state[key], torch.Tensor)
        and not nn.parameter.is_lazy(value)
        and value.shape != state[key].shape
    ]
    if missing or unexpected or wrong_shape:
        details = []
        if missing:
            details.append(f'missing keys {missing}')
        if unexpected:
            details.append(f'unexpected keys {unexpected}')
        if wrong_shape:
            details.append(f'wrong shapes ({"; ".join(wrong_shape)})')
        msg = (
            f'Expected a state that fits {type(module).__name__}, got '
            f'{", ".join(details)}. Nothing was loaded.'
        )
        raise RuntimeError(msg)


def optimizer_state_problem(
    optimizer: torch.optim.Optimizer, state: Mapping[str, Any]
) -> str | None:
    """Why the optimizer would refuse the state, checked beforehand."""
    groups = state.get('param_groups') if isinstance(state, Mapping) else None
    if not isinstance(groups, list) or 'state' not in state:
        return 'the file does not hold an optimizer state dict'
    current = optimizer.param_groups
    if len(groups) != len(current):
        return f'expected {len(current)} parameter groups, got {len(groups)}'
    for index, (saved, group) in enumerate(zip(groups, current, strict=True)):
        n_saved = len(saved.get('params', ()))
        if n_saved != len(group['params']):
            return (
                f'expected {len(group["params"])} parameters in group '
                f'{index}, got {n_saved}'
            )
    return None


@functools.cache
def _numpy_safe_globals() -> tuple[Any, ...]:
    """Numpy types that a state may hold (e.g. a numpy learning rate)."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return ()
    found: list[Any] = [np.dtype]
    found.extend(
        obj
        for obj in vars(np.dtypes).values()
        if isinstance(obj, type) and issubclass(obj, np.dtype)
    )
    found.extend(
        obj
        for obj in vars(np).values()
        if isinstance(obj, type)
        and issubclass(obj, np.generic)
        and obj is not np.object_
    )
    multiarray = getattr(getattr(np, '_core', None), 'multiarray', None)
    if multiarray is None:  # numpy < 2
        multiarray = getattr(getattr(np, 'core', None), 'multiarray', None)
    scalar = getattr(multiarray, 'scalar', None)
    if scalar is not None:
        found.append(scalar)
    return tuple(dict.fromkeys(found))


def torch_load(stream: Any, path: pathlib.Path, device: torch.device) -> Any:
    """Read a file with the restricted unpickler, on the model's device."""
    # a context, not add_safe_globals: loading must not widen what every
    # other torch.load of the process accepts
    with torch.serialization.safe_globals(list(_numpy_safe_globals())):
        try:
            return torch.load(stream, map_location=device, weights_only=True)
        except Exception as error:
            if hasattr(error, 'add_note'):
                error.add_note(f'While reading the checkpoint file {path}.')
            raise


def load_streams(
    epoch: int,
    folder: pathlib.Path,
    streams: tuple[Any, Any, dict[str, Any]],
    with_optimizer: bool,
    device: torch.device,
) -> LoadedState:
    model_stream, optimizer_stream, module_streams = streams
    optimizer_path = folder / layout.OPTIMIZER_FILE
    module_states: dict[str, Mapping[str, Any]] = {}
    try:
        with model_stream:
            module_state = torch_load(
                model_stream, folder / layout.MODEL_FILE, device
            )
        for name, stream in module_streams.items():
            with stream:
                module_states[name] = torch_load(
                    stream, folder / layout.module_file(name), device
                )
    except BaseException:
        if optimizer_stream is not None:
            optimizer_stream.close()
        for stream in module_streams.values():
            stream.close()
        raise
    optimizer_state = None
    problem = None
    if with_optimizer:
        if optimizer_stream is None:
            problem = f'no optimizer state was saved at {optimizer_path}'
        else:
            # the documented promise: an unreadable optimizer state is a
            # warning, the module's state still loads
            try:
                with optimizer_stream:
                    optimizer_state = torch_load(
                        optimizer_stream, optimizer_path, device
                    )
            except Exception as error:  # reported in the warning
                problem = (
                    f'cannot read {optimizer_path} '
                    f'({type(error).__name__}: {error})'
                )
    return LoadedState(
        epoch=epoch,
        location=str(folder),
        module_state=module_state,
        optimizer_state=optimizer_state,
        optimizer_problem=problem,
        module_states=module_states,
    )
