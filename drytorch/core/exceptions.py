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
          ├── NoActiveExperimentError        (RuntimeError)
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
"""

from __future__ import annotations

import traceback
from typing import Any, ClassVar

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


class _Formatted:
    """Mixin: keep the constructor arguments and format the message."""

    msg_fmt: ClassVar[str] = ''
    fields: ClassVar[tuple[str, ...]] = ()

    def _format(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        values = dict(zip(self.fields, args, strict=False))
        values.update(kwargs)
        defaults = getattr(self, '_defaults', {})
        for field in self.fields:
            if field not in values:
                if field not in defaults:
                    cls = type(self).__name__
                    msg = f'{cls} expects argument {field!r}.'
                    raise TypeError(msg)
                values[field] = defaults[field]
        for field, value in values.items():
            object.__setattr__(self, field, value)
        return self.msg_fmt.format(**values)

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from the constructor arguments: errors cross process
        # boundaries (DataLoader workers, distributed ranks) intact
        args = tuple(getattr(self, field) for field in self.fields)
        return (type(self), args)


class DryTorchError(_Formatted, Exception):
    """Root of every error raised by drytorch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(self._format(args, kwargs))


class DryTorchWarning(_Formatted, UserWarning):
    """Root of every warning issued by drytorch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(self._format(args, kwargs))


# errors


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


class EmptyHistoryError(DryTorchError, ValueError, ZeroDivisionError):
    """A filter of monitored values got no value to filter.

    Also a ZeroDivisionError, as the mean of no values was in 0.1.0rc5.
    """

    fields = ('filter_name',)
    msg_fmt = (
        'Expected a non-empty sequence of values for {filter_name}, got none.'
    )


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


class FuncNotApplicableError(DryTorchError, TypeError):
    """A function cannot be applied to a leaf of a nested structure."""

    fields = ('func_name', 'type_name')
    msg_fmt = (
        'Cannot apply {func_name} to an object of type {type_name}: '
        'expected a tensor or a container of tensors.'
    )


class HistoryCorruptedError(DryTorchError, ValueError):
    """A metric history file cannot be read; other runs are not affected."""

    fields = ('path', 'reason')
    msg_fmt = (
        'The metric history file {path} cannot be read ({reason}). It was '
        'left untouched: repair or remove it.'
    )


class InvalidNameError(DryTorchError, ValueError):
    """A name that becomes part of a path is not allowed."""

    fields = ('kind', 'name', 'reason')
    msg_fmt = (
        'Invalid {kind} {name!r}: {reason}. Expected a non-empty name of at '
        'most 255 characters, without path separators, control characters, '
        'any of \\ / : * ? " < > |, and other than "." or "..".'
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


class NamedTupleOnlyError(DryTorchError, TypeError):
    """A tuple subclass that cannot be rebuilt from its items."""

    fields = ('tuple_type',)
    msg_fmt = (
        'Expected a tuple or a NamedTuple, got {tuple_type}, which cannot '
        'be rebuilt from positional arguments.'
    )


class NestedScopeError(DryTorchError, RuntimeError):
    """A run was started while another run is active."""

    fields = ('current_exp_name', 'new_exp_name')
    msg_fmt = (
        'Cannot start a run of experiment {new_exp_name}: a run of '
        'experiment {current_exp_name} is active. Stop it first.'
    )


class NoActiveExperimentError(DryTorchError, RuntimeError):
    """Something requires an active run, of a given experiment class."""

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


# warnings


class UnknownRunError(DryTorchError, LookupError):
    """An experiment or a run that was asked for does not exist."""

    fields = ('kind', 'name', 'known')
    msg_fmt = 'Expected {kind} among {known}, got {name!r}.'


class CannotStoreOutputWarning(DryTorchWarning):
    """A batch output could not be stored."""

    fields = ('error',)
    msg_fmt = 'Output not stored: {error}'


class ComputedBeforeUpdatedWarning(DryTorchWarning):
    """An objective was computed before any update."""

    fields = ('calculator',)
    msg_fmt = '{calculator!r} was computed before any update; returning {{}}.'


class DistributedDatasetNotDivisibleWarning(DryTorchWarning):
    """Evaluation data does not split evenly across processes."""

    fields = ('name', 'len_dataset', 'n_processes')
    msg_fmt = (
        '{name}: {len_dataset} samples do not split evenly over '
        '{n_processes} processes.'
    )


class DistributedStorageWarning(DryTorchWarning):
    """Stored outputs could not be gathered across processes."""

    fields = ('error',)
    msg_fmt = 'Could not gather the stored outputs: {error}'


class ExperimentalFeatureWarning(DryTorchWarning):
    """A feature is experimental."""

    fields = ('feature',)
    msg_fmt = '{feature} is experimental.'


class FailedOptionalImportWarning(DryTorchWarning):
    """An optional dependency could not be imported."""

    fields = ('package_name',)
    msg_fmt = (
        'Optional package {package_name} is not installed; the trackers '
        'that need it are skipped.'
    )


class ModuleNotDistributedWarning(DryTorchWarning):
    """Distributed run, but the module is not wrapped for it."""

    msg_fmt = (
        'torch.distributed is initialized but the module is not wrapped '
        'in DistributedDataParallel.'
    )


class NoPreviousRunsWarning(DryTorchWarning):
    """Resume was asked for but no run is recorded."""

    msg_fmt = 'No previous run to resume: starting a new run.'


class NotExistingRunWarning(DryTorchWarning):
    """Resume named a run that is not recorded."""

    fields = ('run_id',)
    msg_fmt = 'Run {run_id} is not recorded: starting a new run with that id.'


class ObjectiveSyncWarning(DryTorchWarning):
    """The objective may not synchronize correctly across processes."""

    fields = ('issue', 'recommend')
    msg_fmt = '{issue} {recommend}'


class OptimizerNotLoadedWarning(DryTorchWarning):
    """The optimizer state could not be loaded."""

    fields = ('error',)
    msg_fmt = 'Optimizer state not loaded: {error}'


class PastEpochWarning(DryTorchWarning):
    """Training was asked to reach an epoch already passed."""

    fields = ('selected_epoch', 'current_epoch')
    msg_fmt = (
        'Epoch {selected_epoch} is already passed (current epoch: '
        '{current_epoch}); nothing to train.'
    )


class RecursionWarning(DryTorchWarning):
    """Metadata extraction met a self-referencing object."""

    msg_fmt = 'Metadata extraction hit a recursive structure; skipped.'


class RegistryFileIgnoredWarning(DryTorchWarning):
    """A file in the run registry is not one of its own; it is ignored."""

    fields = ('path', 'reason')
    msg_fmt = 'The run registry ignores {path} ({reason}).'


class RunAlreadyCompletedWarning(DryTorchWarning):
    """stop() was called on a run that already ended."""

    msg_fmt = 'The run has already ended; stop() does nothing.'


class RunAlreadyRunningWarning(DryTorchWarning):
    """start() was called on a run that is running."""

    msg_fmt = 'The run is already running; start() does nothing.'


class RunNotStartedWarning(DryTorchWarning):
    """stop() was called on a run that was never started."""

    msg_fmt = 'The run was never started; stop() does nothing.'


class TerminatedTrainingWarning(DryTorchWarning):
    """Training was asked for after it was terminated."""

    msg_fmt = 'Training has been terminated; the call does nothing.'


class TrackerExceptionWarning(DryTorchWarning):
    """A tracker raised: it is detached from the current run."""

    fields = ('subscriber_name', 'error')
    msg_fmt = ''

    def _format(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        super()._format(args, kwargs)
        error: BaseException = self.error  # type: ignore[attr-defined]
        tb = ''.join(traceback.format_exception(error)).rstrip()
        return (
            f'Tracker {self.subscriber_name} raised '  # type: ignore[attr-defined]
            f'{type(error).__name__}: {error}; it is detached from this '
            f'run, the experiment goes on.\n{tb}'
        )
