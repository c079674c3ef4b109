"""Errors and warnings raised by drytorch.

Every error derives from :class:`DryTorchError` and also from the builtin
exception that fits it best, so callers may catch either::

    Exception
     └── DryTorchError
          ├── AccessOutsideScopeError        (RuntimeError)
          ├── CheckpointNotInitializedError  (RuntimeError)
          ├── ComputedMetricsTypeError       (TypeError)
          ├── ConvergenceError               (ValueError)
          ├── DatasetHasNoLengthError        (TypeError)
          ├── DeviceMismatchError            (ValueError)
          │    └── ModelDeviceMismatchError
          ├── EmptyHistoryError              (ValueError, ZeroDivisionError)
          ├── EpochNotFoundError             (FileNotFoundError)
          ├── FuncNotApplicableError         (TypeError)
          ├── HistoryCorruptedError          (ValueError)
          ├── InvalidNameError               (ValueError)
          ├── LossNotScalarError             (ValueError)
          ├── MetricNotFoundError            (LookupError)
          ├── MissingParamError              (ValueError)
          ├── ModelNotFoundError             (FileNotFoundError)
          ├── ModuleAlreadyRegisteredError   (RuntimeError)
          ├── ModuleNotRegisteredError       (RuntimeError)
          ├── NameAlreadyRegisteredError     (ValueError)
          ├── NamedTupleOnlyError            (TypeError)
          ├── NestedScopeError               (RuntimeError)
          ├── NoActiveRunError               (RuntimeError)
          ├── RegistryCorruptedError         (RuntimeError)
          ├── ResultNotAvailableError        (RuntimeError)
          ├── RunAlreadyRecordedError        (ValueError)
          ├── RunInUseError                  (RuntimeError)
          ├── RunNotRecordedError            (LookupError)
          ├── TrackerAlreadyRegisteredError  (ValueError)
          ├── TrackerError                   (RuntimeError)
          ├── TrackerNotUsedError            (LookupError)
          └── UnknownRunError                (LookupError)

    UserWarning
     └── DryTorchWarning
          ├── CannotStoreOutputWarning, ComputedBeforeUpdatedWarning,
          ├── DistributedDatasetNotDivisibleWarning, DistributedStorageWarning,
          ├── ExperimentalFeatureWarning, FailedOptionalImportWarning,
          ├── ModuleNotDistributedWarning, NoPreviousRunsWarning,
          ├── NotExistingRunWarning, ObjectiveSyncWarning,
          ├── OptimizerNotLoadedWarning, PastEpochWarning, RecursionWarning,
          ├── RegistryFileIgnoredWarning,
          ├── RunAlreadyCompletedWarning, RunAlreadyRunningWarning,
          └── RunNotStartedWarning, TerminatedTrainingWarning,
              TrackerExceptionWarning

Each class formats ``msg_fmt`` with its constructor arguments, which are
also kept as attributes of the same name.

``NoActiveExperimentError`` is the former name of :class:`NoActiveRunError`
(the same class): the error means that no run is active.

Every class is importable from here, the one public path. The two roots and
the errors raised by :mod:`drytorch.utils` (``EmptyHistoryError``,
``FuncNotApplicableError``, ``InvalidNameError``, ``NamedTupleOnlyError``,
``RecursionWarning``) are defined in :mod:`drytorch.utils.errors`, below
the core, and the warnings in :mod:`drytorch.core._warning_classes`; the
errors of the core and the library are defined here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drytorch.core._warning_classes import (
    CannotStoreOutputWarning,
    ComputedBeforeUpdatedWarning,
    DistributedDatasetNotDivisibleWarning,
    DistributedStorageWarning,
    ExperimentalFeatureWarning,
    FailedOptionalImportWarning,
    ModuleNotDistributedWarning,
    NoPreviousRunsWarning,
    NotExistingRunWarning,
    ObjectiveSyncWarning,
    OptimizerNotLoadedWarning,
    PastEpochWarning,
    RegistryFileIgnoredWarning,
    RunAlreadyCompletedWarning,
    RunAlreadyRunningWarning,
    RunNotStartedWarning,
    TerminatedTrainingWarning,
    TrackerExceptionWarning,
)
from drytorch.utils.errors import (
    PUBLIC_MODULE,
    DryTorchError,
    DryTorchWarning,
    EmptyHistoryError,
    FuncNotApplicableError,
    InvalidNameError,
    NamedTupleOnlyError,
    RecursionWarning,
)

__all__ = [
    'AccessOutsideScopeError',
    'CannotStoreOutputWarning',
    'CheckpointNotInitializedError',
    'ComputedBeforeUpdatedWarning',
    'ComputedMetricsTypeError',
    'ConvergenceError',
    'DatasetHasNoLengthError',
    'DeviceMismatchError',
    'DistributedDatasetNotDivisibleWarning',
    'DistributedStorageWarning',
    'DryTorchError',
    'DryTorchWarning',
    'EmptyHistoryError',
    'EpochNotFoundError',
    'ExperimentalFeatureWarning',
    'FailedOptionalImportWarning',
    'FuncNotApplicableError',
    'HistoryCorruptedError',
    'InvalidNameError',
    'LossNotScalarError',
    'MetricNotFoundError',
    'MissingParamError',
    'ModelDeviceMismatchError',
    'ModelNotFoundError',
    'ModuleAlreadyRegisteredError',
    'ModuleNotDistributedWarning',
    'ModuleNotRegisteredError',
    'NameAlreadyRegisteredError',
    'NamedTupleOnlyError',
    'NestedScopeError',
    'NoActiveExperimentError',
    'NoActiveRunError',
    'NoPreviousRunsWarning',
    'NotExistingRunWarning',
    'ObjectiveSyncWarning',
    'OptimizerNotLoadedWarning',
    'PastEpochWarning',
    'RecursionWarning',
    'RegistryCorruptedError',
    'RegistryFileIgnoredWarning',
    'ResultNotAvailableError',
    'RunAlreadyCompletedWarning',
    'RunAlreadyRecordedError',
    'RunAlreadyRunningWarning',
    'RunInUseError',
    'RunNotRecordedError',
    'RunNotStartedWarning',
    'TerminatedTrainingWarning',
    'TrackerAlreadyRegisteredError',
    'TrackerError',
    'TrackerExceptionWarning',
    'TrackerNotUsedError',
    'UnknownRunError',
]


class AccessOutsideScopeError(DryTorchError, RuntimeError):
    """Something that needs an active run was used outside of one."""

    msg_fmt = 'This operation needs an active run, but no run is active.'


class CheckpointNotInitializedError(DryTorchError, RuntimeError):
    """A checkpoint was used before a model was bound to it."""

    msg_fmt = 'The checkpoint has no model: call bind_model(model) first.'


class ComputedMetricsTypeError(DryTorchError, TypeError):
    """An objective computed something that is not a tensor or a mapping."""

    fields = ('computed_metrics_type',)
    msg_fmt = (
        'Expected compute() to return a Mapping[str, Tensor] or a Tensor, '
        'got {computed_metrics_type}.'
    )


class ConvergenceError(DryTorchError, ValueError):
    """The training loss became infinite or NaN."""

    fields = ('criterion',)
    msg_fmt = 'Expected a finite loss, got {criterion}.'


class DatasetHasNoLengthError(DryTorchError, TypeError):
    """A dataset without ``__len__`` was given where a length is needed."""

    msg_fmt = 'Expected a dataset that implements __len__; this one does not.'


class DeviceMismatchError(DryTorchError, ValueError):
    """A metric lives on another device than the model's outputs."""

    fields = ('metric_name', 'metric_device', 'target_device')
    msg_fmt = (
        'Metric {metric_name} is on device {metric_device}, '
        'expected device {target_device}.'
    )


class ModelDeviceMismatchError(DeviceMismatchError):
    """Distributed run: the objective and the model are on other devices."""


class EpochNotFoundError(DryTorchError, FileNotFoundError):
    """No checkpoint was saved for the requested epoch."""

    fields = ('epoch', 'checkpoint_directory')
    msg_fmt = 'No checkpoint for epoch {epoch} in {checkpoint_directory}.'


class HistoryCorruptedError(DryTorchError, ValueError):
    """A metric history file cannot be read; other runs are not affected."""

    fields = ('path', 'reason')
    msg_fmt = (
        'The metric history file {path} cannot be read ({reason}). It was '
        'left untouched: repair or remove it.'
    )


class LossNotScalarError(DryTorchError, ValueError):
    """The loss to optimize has more than one element."""

    fields = ('size',)
    msg_fmt = 'Expected a scalar loss, got a tensor of size {size}.'


class MetricNotFoundError(DryTorchError, LookupError):
    """A monitored metric is not among the computed metrics."""

    fields = ('source_name', 'metric_name')
    msg_fmt = 'No metric named {metric_name!r} is computed by {source_name}.'


class MissingParamError(DryTorchError, ValueError):
    """Per-module learning rates do not cover every parameter."""

    fields = ('module_names', 'lr_param_groups')
    msg_fmt = (
        'Learning rates must cover every parameter: expected keys covering '
        '{module_names}, got {lr_param_groups}.'
    )


class ModelNotFoundError(DryTorchError, FileNotFoundError):
    """No checkpoint was saved for the model."""

    fields = ('checkpoint_directory',)
    msg_fmt = 'No saved model found in {checkpoint_directory}.'


class ModuleAlreadyRegisteredError(DryTorchError, RuntimeError):
    """The module object already belongs to a Model."""

    fields = ('model_name', 'exp_name', 'run_id')
    msg_fmt = (
        'Expected an unregistered module, but {model_name} is already '
        'registered in experiment {exp_name}, run {run_id}. '
        'Call register.unregister_model on the old Model first.'
    )


class ModuleNotRegisteredError(DryTorchError, RuntimeError):
    """An actor was used on a model that is not registered in this run."""

    fields = ('model_name', 'exp_name', 'run_id')
    msg_fmt = (
        'Expected model {model_name} to be registered in experiment '
        '{exp_name}, run {run_id}, but it is not.'
    )


class NameAlreadyRegisteredError(DryTorchError, ValueError):
    """Two models or actors share a name in one run."""

    fields = ('name',)
    msg_fmt = (
        'The name {name!r} is already used in this run; expected a unique '
        'name.'
    )


class NestedScopeError(DryTorchError, RuntimeError):
    """A run was started while another run is active."""

    fields = ('current_exp_name', 'new_exp_name')
    msg_fmt = (
        'Cannot start a run of experiment {new_exp_name}: a run of '
        'experiment {current_exp_name} is active. Stop it first.'
    )


class NoActiveRunError(DryTorchError, RuntimeError):
    """Something requires an active run (of a given experiment) and none is.

    ``NoActiveExperimentError`` is the same class, under its former name.
    """

    fields = ('experiment_name', 'experiment_class')
    _defaults: ClassVar[dict[str, Any]] = {
        'experiment_name': None,
        'experiment_class': None,
    }
    msg_fmt = ''

    def _format(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        super()._format(args, kwargs)
        name = getattr(self, 'experiment_name', None)
        cls = getattr(self, 'experiment_class', None)
        if name is not None:
            return f'Expected an active run of experiment {name}, got none.'
        if cls is not None:
            cls_name = getattr(cls, '__name__', str(cls))
            return f'Expected an active run of a {cls_name}, got none.'
        return 'Expected an active run, got none. Start a run first.'


NoActiveExperimentError = NoActiveRunError
"""The former name of :class:`NoActiveRunError` (the same class)."""


class RegistryCorruptedError(DryTorchError, RuntimeError):
    """A run registry file cannot be read; it is never treated as empty."""

    fields = ('path', 'reason')
    msg_fmt = (
        'The run registry file {path} is corrupted ({reason}). It was left '
        'untouched: repair or remove it.'
    )


class ResultNotAvailableError(DryTorchError, RuntimeError):
    """A best value was requested before any value was recorded."""

    msg_fmt = 'No value has been recorded yet.'


class RunAlreadyRecordedError(DryTorchError, ValueError):
    """A new run was asked for with an id that is already recorded."""

    fields = ('run_id', 'exp_name')
    msg_fmt = (
        'Run {run_id} is already recorded for experiment {exp_name}: '
        'expected a new id, or pass resume=True to resume it.'
    )


class RunInUseError(DryTorchError, RuntimeError):
    """A run is resumed while a live process is still running it."""

    fields = ('run_id', 'exp_name', 'pid')
    msg_fmt = (
        'Run {run_id} of experiment {exp_name} is running in live process '
        '{pid}: expected a run that is not running.'
    )


class RunNotRecordedError(DryTorchError, LookupError):
    """A registry update names a run that is not recorded."""

    fields = ('run_id',)
    msg_fmt = 'Run {run_id} is not recorded in the registry.'


class TrackerAlreadyRegisteredError(DryTorchError, ValueError):
    """Two trackers with the same name were subscribed."""

    fields = ('tracker_name', 'exp_name')
    msg_fmt = (
        'A tracker named {tracker_name} is already subscribed to '
        'experiment {exp_name}; expected a new name.'
    )


class TrackerError(DryTorchError, RuntimeError):
    """A tracker met a problem specific to its output."""

    fields = ('tracker', 'tracker_msg')
    msg_fmt = ''

    def _format(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        super()._format(args, kwargs)
        tracker = self.tracker  # type: ignore[attr-defined]
        name = type(tracker).__name__
        return f'[{name}] {self.tracker_msg}'  # type: ignore[attr-defined]


class TrackerNotUsedError(DryTorchError, LookupError):
    """A tracker is not in use where it was looked for."""

    fields = ('tracker_name',)
    msg_fmt = 'Tracker {tracker_name} is not in use.'


class UnknownRunError(DryTorchError, LookupError):
    """An experiment or a run that was asked for does not exist."""

    fields = ('kind', 'name', 'known')
    msg_fmt = 'Expected {kind} among {known}, got {name!r}.'


# the public path, as for the classes of drytorch.utils.errors
for _cls in (
    AccessOutsideScopeError,
    CheckpointNotInitializedError,
    ComputedMetricsTypeError,
    ConvergenceError,
    DatasetHasNoLengthError,
    DeviceMismatchError,
    ModelDeviceMismatchError,
    EpochNotFoundError,
    HistoryCorruptedError,
    LossNotScalarError,
    MetricNotFoundError,
    MissingParamError,
    ModelNotFoundError,
    ModuleAlreadyRegisteredError,
    ModuleNotRegisteredError,
    NameAlreadyRegisteredError,
    NestedScopeError,
    NoActiveRunError,
    RegistryCorruptedError,
    ResultNotAvailableError,
    RunAlreadyRecordedError,
    RunInUseError,
    RunNotRecordedError,
    TrackerAlreadyRegisteredError,
    TrackerError,
    TrackerNotUsedError,
    UnknownRunError,
):
    _cls.__module__ = PUBLIC_MODULE
del _cls
