"""Saving and loading the state of a model and of its optimizer.

An epoch's checkpoint is a folder ``<model dir>/epoch_<N>`` holding
``model_state.pt`` and, when an optimizer is bound, ``optimizer_state.pt``.
The last checkpoint is the one with the highest epoch number; anything else
in the model folder is ignored. Saves are crash-safe, re-saves of an epoch
included, and what a killed save leaves behind is bounded and removed by
the next save or load (see :mod:`drytorch.lib._checkpoint_files`).

Loading reads and checks everything before changing anything: a load that
fails leaves the model's epoch, the module and the optimizer as they were.
Files are read with ``torch.load(weights_only=True)``; reading and checking
a state before it is applied lives in :mod:`drytorch.lib._checkpoint_states`.
"""

from __future__ import annotations

import abc
import pathlib
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from drytorch.core import events, exceptions, naming, scope
from drytorch.core.protocols import ModelProtocol
from drytorch.lib import _checkpoint_files as layout
from drytorch.lib import _checkpoint_states as _states
from drytorch.lib._checkpoint_states import LoadedState
from drytorch.utils import files

__all__ = [
    'AbstractCheckpoint',
    'CheckpointPathManager',
    'LoadedState',
    'LocalCheckpoint',
]

# a reader that finds a folder moved away by a concurrent save looks again
_READ_ATTEMPTS = 5


def _distributed() -> bool:
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized()


def _rank() -> int:
    return torch.distributed.get_rank() if _distributed() else 0


def _require_run() -> Any:
    try:
        return scope.require_run()
    except exceptions.NoActiveRunError as error:
        raise exceptions.AccessOutsideScopeError() from error


def _unwrapped(model: Any) -> nn.Module:
    """The module whose state is saved and loaded.

    A model holding more state than its module (e.g. ModelAverage, with a
    running average) names it with ``state_module``.
    """
    module = getattr(model, 'state_module', None)
    if isinstance(module, nn.Module):
        return module
    module = getattr(model, 'unwrapped_module', None)
    if isinstance(module, nn.Module):
        return module
    module = model.module
    if isinstance(
        module, nn.parallel.DistributedDataParallel | nn.DataParallel
    ):
        return module.module
    return module


class CheckpointPathManager:
    """The folders and files of a model's checkpoints.

    Attributes:
        folder_name: the folder, under the experiment's ``par_dir``, of
            every experiment's checkpoints.
        model: the model.
        run_dir: the folder of the run's checkpoints.
    """

    folder_name = 'checkpoints'

    def __init__(
        self,
        model: ModelProtocol[Any, Any],
        run_dir: pathlib.Path | None = None,
    ) -> None:
        """Args:
            model: the model.
            run_dir: the folder of the run's checkpoints; default:
                ``<par_dir>/checkpoints/<experiment>/<day>/<time>`` for a
                run id ``<day>@<time>``, else
                ``<par_dir>/checkpoints/<experiment>/<run id>``.

        Raises:
            AccessOutsideScopeError: if no run_dir is given and no run is
                active.
        """  # noqa: D205
        self.model = model
        self.run_dir = (
            pathlib.Path(run_dir) if run_dir is not None else _default_dir()
        )

    def __repr__(self) -> str:
        return f'{type(self).__name__}(run_dir={self.run_dir})'

    @property
    def model_dir(self) -> pathlib.Path:
        """The folder of the model's checkpoints."""
        name = naming.validate_name(self.model.name, 'model name')
        return files.safe_join(self.run_dir, name)

    def epoch_dir_of(self, epoch: int) -> pathlib.Path:
        """Return the folder of the checkpoint of an epoch."""
        return self.model_dir / layout.epoch_dir_name(
            _check_epoch_number(epoch)
        )

    @property
    def epoch_dir(self) -> pathlib.Path:
        """The folder of the checkpoint at the model's epoch."""
        return self.epoch_dir_of(self.model.epoch)

    @property
    def model_state_path(self) -> pathlib.Path:
        """The module's state file at the model's epoch."""
        return self.epoch_dir / layout.MODEL_FILE

    @property
    def optimizer_state_path(self) -> pathlib.Path:
        """The optimizer's state file at the model's epoch."""
        return self.epoch_dir / layout.OPTIMIZER_FILE


def _default_dir() -> pathlib.Path:
    run = _require_run()
    experiment = run.experiment
    root = pathlib.Path(experiment.par_dir)
    parts = [CheckpointPathManager.folder_name, experiment.name]
    day, sep, time = run.id.partition('@')
    if sep and _is_valid_name(day) and _is_valid_name(time):
        parts += [day, time]
    else:
        parts.append(run.id)
    return files.safe_join(root, *parts)


def _is_valid_name(name: str) -> bool:
    try:
        naming.validate_name(name)
    except exceptions.InvalidNameError:
        return False
    return True


def _check_epoch_number(epoch: object) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        msg = f'Expected an epoch that is an int >= 0, got {epoch!r}.'
        raise ValueError(msg)
    return epoch


class AbstractCheckpoint(abc.ABC):
    """Saves and loads a model's state (and its optimizer's).

    Subclasses say where states go (:meth:`_write`) and where they come
    from (:meth:`_read`). This class checks a loaded state before applying
    it, publishes the events after the I/O succeeded, and makes only the
    first process of a distributed run write.
    """

    def __init__(self) -> None:
        self._model: ModelProtocol[Any, Any] | None = None
        self._optimizer: torch.optim.Optimizer | None = None
        self._modules: dict[str, nn.Module] = {}

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'

    @property
    def model(self) -> ModelProtocol[Any, Any]:
        """The bound model.

        Raises:
            CheckpointNotInitializedError: if no model is bound.
        """
        if self._model is None:
            raise exceptions.CheckpointNotInitializedError()
        return self._model

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        """The bound optimizer, if any."""
        return self._optimizer

    def bind_model(self, model: ModelProtocol[Any, Any], /) -> None:
        """Bind the model whose state to save and load.

        Binding another model unbinds the optimizer, which belongs to the
        previous model.
        """
        if model is not self._model:
            self._optimizer = None
            self._modules.clear()
        self._model = model

    @property
    def modules(self) -> Mapping[str, nn.Module]:
        """The modules bound beside the model, by name."""
        return dict(self._modules)

    def bind_module(self, name: str, module: nn.Module, /) -> None:
        """Bind a module saved and loaded with the model, under a name.

        For modules that belong to the model's training without being part
        of it (a discriminator, an averaged copy, a learned loss): their
        states go into the same checkpoint folder as the model's, written
        and replaced together, and a load applies all of them or none.
        Binding another model unbinds them.

        Args:
            name: the module's name in the checkpoint (a valid name, not
                'model' or 'optimizer'); binding the same name again
                replaces the module.
            module: the module.

        Raises:
            TypeError: if module is not a torch module.
            InvalidNameError: if the name cannot name a file, or is taken
                by the model's own states.
        """
        if not isinstance(module, nn.Module):
            msg = f'Expected a torch.nn.Module, got {type(module).__name__}.'
            raise TypeError(msg)
        naming.validate_name(name)
        if name in layout.RESERVED_MODULE_NAMES:
            raise exceptions.InvalidNameError(
                'module', name, "it is taken by the model's own states"
            )
        self._modules[name] = module

    def bind_optimizer(self, optimizer: torch.optim.Optimizer, /) -> None:
        """Bind the optimizer whose state to save and load with the model.

        Raises:
            TypeError: if optimizer is not a torch optimizer.
        """
        if not isinstance(optimizer, torch.optim.Optimizer):
            msg = (
                'Expected a torch.optim.Optimizer, got '
                f'{type(optimizer).__name__}.'
            )
            raise TypeError(msg)
        self._optimizer = optimizer

    def remove_model(self) -> None:
        """Unbind the model (and the optimizer and the bound modules)."""
        self._model = None
        self._optimizer = None
        self._modules.clear()

    def _definition(self, with_optimizer: bool) -> str:
        return 'checkpoint' if with_optimizer else 'state'

    def save(self) -> None:
        """Save the state at the model's epoch.

        In a distributed run only the first process writes. The
        ``SaveModelEvent`` is published once the files are written.

        Raises:
            CheckpointNotInitializedError: if no model is bound.
            AccessOutsideScopeError: if no run is active.
        """
        model = self.model
        _require_run()
        if _rank() != 0:
            return
        optimizer = self._optimizer
        module_state = _unwrapped(model).state_dict()
        optimizer_state = None if optimizer is None else optimizer.state_dict()
        if self._modules:
            module_states = {
                name: module.state_dict()
                for name, module in self._modules.items()
            }
            location = self._write(
                model.epoch, module_state, optimizer_state, module_states
            )
        else:
            location = self._write(model.epoch, module_state, optimizer_state)
        scope.publish(
            events.SaveModelEvent(  # type: ignore[call-arg]
                model_name=model.name,
                definition=self._definition(optimizer is not None),
                location=location,
                epoch=model.epoch,
            )
        )

    def load(self, epoch: int = -1) -> None:
        """Load the state of an epoch into the model (and the optimizer).

        Nothing is changed unless the module's state loads: the epoch, the
        module and the optimizer stay as they were. If the optimizer's state
        cannot be loaded, an ``OptimizerNotLoadedWarning`` is issued and the
        module's state is loaded alone. In a distributed run every process
        loads, after waiting for the others (and their writes).

        Args:
            epoch: the epoch to load; -1 means the last saved one.

        Raises:
            ValueError: if epoch is not an int >= -1.
            CheckpointNotInitializedError: if no model is bound.
            AccessOutsideScopeError: if no run is active.
            ModelNotFoundError: if the model has no checkpoint.
            EpochNotFoundError: if the epoch has no checkpoint.
            RuntimeError: if the module's state does not fit the module.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < -1:
            msg = (
                'Expected epoch -1 (the last saved) or an int >= 0, '
                f'got {epoch!r}.'
            )
            raise ValueError(msg)
        model = self.model
        _require_run()
        if _distributed():
            torch.distributed.barrier()
        optimizer = self._optimizer
        bound = self._modules
        if bound:
            loaded = self._read(epoch, optimizer is not None, tuple(bound))
        else:
            loaded = self._read(epoch, with_optimizer=optimizer is not None)
        module = _unwrapped(model)
        _states.check_module_state(module, loaded.module_state)
        for name, extra in bound.items():
            state = loaded.module_states.get(name)
            if state is None:
                msg = (
                    f'Expected a state of the bound module {name!r} at '
                    f'{loaded.location}, found none. Nothing was loaded.'
                )
                raise RuntimeError(msg)
            _states.check_module_state(extra, state)
        optimizer_problem = loaded.optimizer_problem
        optimizer_state = loaded.optimizer_state
        if optimizer is not None and optimizer_state is not None:
            optimizer_problem = _states.optimizer_state_problem(
                optimizer, optimizer_state
            )
        # everything is read and checked: from here on, apply
        module.load_state_dict(loaded.module_state)
        for name, extra in bound.items():
            extra.load_state_dict(loaded.module_states[name])
        optimizer_loaded = False
        if optimizer is not None:
            if optimizer_problem is None and optimizer_state is not None:
                try:
                    optimizer.load_state_dict(optimizer_state)
                except ValueError as error:
                    optimizer_problem = str(error)
                else:
                    optimizer_loaded = True
            if not optimizer_loaded:
                warnings.warn(
                    exceptions.OptimizerNotLoadedWarning(optimizer_problem),
                    stacklevel=2,
                )
        model.epoch = loaded.epoch
        scope.publish(
            events.LoadModelEvent(  # type: ignore[call-arg]
                model_name=model.name,
                definition=self._definition(optimizer_loaded),
                location=loaded.location,
                epoch=loaded.epoch,
            )
        )

    @abc.abstractmethod
    def _write(
        self,
        epoch: int,
        module_state: Mapping[str, Any],
        optimizer_state: Mapping[str, Any] | None,
        module_states: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> str:
        """Store the states of an epoch; return where they are.

        ``module_states`` (the bound modules', by name) is passed only when
        modules are bound.
        """

    @abc.abstractmethod
    def _read(
        self,
        epoch: int,
        with_optimizer: bool,
        module_names: tuple[str, ...] = (),
    ) -> LoadedState:
        """Read the states of an epoch (-1: the last) without applying.

        ``module_names`` (the bound modules) is passed only when modules
        are bound.
        """


class LocalCheckpoint(AbstractCheckpoint):
    """Checkpoints in the file system.

    Re-saving an epoch is safe against a crash at any instant, and the
    leftovers of crashed saves are removed by the next save or load (see the
    module's documentation).

    Attributes:
        par_dir: the folder of the run's checkpoints, if given; default:
            the run's folder under the experiment's ``checkpoints`` folder.
    """

    def __init__(self, par_dir: pathlib.Path | None = None) -> None:
        """Args:
        par_dir: the folder of the run's checkpoints (the model's folder
            goes directly in it); default: see CheckpointPathManager.
        """  # noqa: D205
        super().__init__()
        self.par_dir = None if par_dir is None else pathlib.Path(par_dir)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(par_dir={self.par_dir})'

    @property
    def paths(self) -> CheckpointPathManager:
        """The paths of the bound model's checkpoints.

        Raises:
            CheckpointNotInitializedError: if no model is bound.
            AccessOutsideScopeError: if no par_dir was given and no run is
                active.
        """
        return CheckpointPathManager(self.model, run_dir=self.par_dir)

    def saved_epochs(self) -> list[int]:
        """List the epochs with a checkpoint, in increasing order."""
        return sorted(layout.saved_epochs(self.paths.model_dir))

    def _write(
        self,
        epoch: int,
        module_state: Mapping[str, Any],
        optimizer_state: Mapping[str, Any] | None,
        module_states: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> str:
        final = self.paths.epoch_dir_of(epoch)
        layout.write_epoch(final, module_state, optimizer_state, module_states)
        return str(final)

    def _read(
        self,
        epoch: int,
        with_optimizer: bool,
        module_names: tuple[str, ...] = (),
    ) -> LoadedState:
        model = self.model
        model_dir = self.paths.model_dir
        if not model_dir.is_dir():
            raise exceptions.ModelNotFoundError(model_dir)
        layout.tidy(model_dir)
        for _ in range(_READ_ATTEMPTS):
            saved = layout.saved_epochs(model_dir)
            if epoch == -1:
                if not saved:
                    raise exceptions.ModelNotFoundError(model_dir)
                chosen = max(saved)
            else:
                chosen = epoch
            folder = saved.get(chosen)
            if folder is None:
                raise exceptions.EpochNotFoundError(epoch, model_dir)
            try:
                streams = layout.open_checkpoint(
                    folder, with_optimizer, module_names
                )
            except FileNotFoundError:
                continue  # moved by a concurrent save: look again
            return _states.load_streams(
                chosen, folder, streams, with_optimizer, model.device
            )
        raise exceptions.EpochNotFoundError(epoch, model_dir)
