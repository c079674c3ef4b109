"""Internal: the warnings of the core and the library.

Import them from :mod:`drytorch.core.exceptions`, their public path (it
re-exports these classes). They live apart so that module stays one
readable list of errors.
"""

from __future__ import annotations

import traceback
from typing import Any

from drytorch.utils.errors import PUBLIC_MODULE, DryTorchWarning

__all__ = [
    'CannotStoreOutputWarning',
    'ComputedBeforeUpdatedWarning',
    'DistributedDatasetNotDivisibleWarning',
    'DistributedStorageWarning',
    'ExperimentalFeatureWarning',
    'FailedOptionalImportWarning',
    'ModuleNotDistributedWarning',
    'NoPreviousRunsWarning',
    'NotExistingRunWarning',
    'ObjectiveSyncWarning',
    'OptimizerNotLoadedWarning',
    'PastEpochWarning',
    'RegistryFileIgnoredWarning',
    'RunAlreadyCompletedWarning',
    'RunAlreadyRunningWarning',
    'RunNotStartedWarning',
    'TerminatedTrainingWarning',
    'TrackerExceptionWarning',
]


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


# their public path: tracebacks and pickles name it
for _name in __all__:
    globals()[_name].__module__ = PUBLIC_MODULE
del _name
