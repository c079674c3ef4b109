"""Experiments and runs.

An :class:`Experiment` binds a configuration to a name, an output folder
and trackers. A :class:`Run` is one execution of it, recorded in the
experiment's :class:`~drytorch.core.run_registry.RunRegistry` so that it can be
resumed, and with a status that tells the truth about how it ended.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import warnings
from typing import Any, ClassVar, Generic, TypeVar

from drytorch.core import (
    distributed,
    events,
    exceptions,
    exit_hooks,
    gitinfo,
    naming,
    scope,
    track,
)
from drytorch.core.metadata import MetadataManager
from drytorch.core.run_registry import (
    TS_FMT,
    RunMetadata,
    RunRegistry,
    RunStatus,
)

__all__ = ['Experiment', 'Run', 'RunMetadata', 'RunRegistry', 'RunStatus']

_T = TypeVar('_T')


class Experiment(Generic[_T]):
    """An experiment: a configuration, a name, an output folder, trackers.

    Subclass it with the configuration type (``Experiment[MyConfig]``) to
    read the configuration of the active run with :meth:`get_config`.

    Attributes:
        par_dir: the folder where the experiment's outputs go.
        tags: free-form labels, handed to trackers.
        trackers: the trackers of the experiment's runs.
    """

    folder_name: ClassVar[str] = '.drytorch'

    def __init__(
        self,
        config: _T,
        *,
        name: str = '',
        par_dir: str | pathlib.Path = pathlib.Path(),
        tags: list[str] | None = None,
    ) -> None:
        """Args:
            config: the configuration (ideally a frozen dataclass).
            name: the experiment's name; empty means the class name.
            par_dir: the folder where the experiment's outputs go.
            tags: free-form labels.

        Raises:
            InvalidNameError: if the name cannot be a folder name.
            TypeError: if tags are not strings.
        """  # noqa: D205
        self._name = naming.validate_name(
            name or type(self).__name__, 'experiment name'
        )
        tags = list(tags or [])
        for tag in tags:
            if not isinstance(tag, str):
                msg = f'Expected tags of type str, got {type(tag).__name__}.'
                raise TypeError(msg)
        self._config = config
        self.par_dir = pathlib.Path(par_dir)
        self.tags = tags
        track.ensure_default_trackers()
        self.trackers = track.EventDispatcher(self._name)
        self.trackers.subscribe(**track.DEFAULT_TRACKERS)
        self._registry: RunRegistry | None = None

    def __repr__(self) -> str:
        return f'{type(self).__name__}(name={self._name})'

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self._name

    @property
    def config(self) -> _T:
        """The experiment's configuration."""
        return self._config

    @property
    def registry(self) -> RunRegistry:
        """The registry of the experiment's runs."""
        if self._registry is None:
            path = self.par_dir / self.folder_name / self._name
            self._registry = RunRegistry(path)
        return self._registry

    @property
    def run(self) -> Run:
        """The active run of this experiment.

        Raises:
            NoActiveRunError: if none of its runs is active.
        """
        run = scope.active_run()
        if not isinstance(run, Run) or run.experiment is not self:
            raise exceptions.NoActiveRunError(self._name)
        return run

    def create_run(
        self,
        *,
        run_id: str | None = None,
        resume: bool = False,
        record: bool = True,
    ) -> Run:
        """Create a run (recorded as ``created``), or resume a recorded one.

        Under torch.distributed, every rank must call it: rank 0 alone
        reads and writes the registry, and every rank gets a run with rank
        0's id (its checkpoints are in the same folder). An error of rank 0
        is raised on every rank.

        Args:
            run_id: the run's id; default: the current time, made unique.
            resume: resume the run with this id (default: the run last
                started or resumed in this experiment).
            record: record the run in the registry.

        Raises:
            InvalidNameError: if the id cannot be a folder name.
            RunAlreadyRecordedError: if a new run is asked for with an id
                that is already recorded.
        """
        if run_id is not None:
            naming.validate_name(run_id, 'run id')
        # Under torch.distributed, rank 0 alone resolves the run in the
        # registry and the other ranks adopt its id: each rank computing
        # its own (a timestamp) would split one job into several runs.
        outcome: tuple[str, bool, bool] | None = None
        error: Exception | None = None
        if distributed.is_first_process():
            try:
                outcome = self._resolve_run(run_id, resume, record)
            except Exception as exc:  # raised on every rank, below
                error = exc
        outcome = distributed.share_outcome(outcome, error)
        if outcome is None:  # pragma: no cover - rank 0 always sets it
            msg = 'Expected the run resolved by rank 0, got nothing.'
            raise RuntimeError(msg)
        resolved_id, resumed, recorded = outcome
        run: Run[_T] = Run(self, resolved_id, resumed=resumed, record=record)
        run._recorded = recorded and run.record
        return run

    def _resolve_run(
        self, run_id: str | None, resume: bool, record: bool
    ) -> tuple[str, bool, bool]:
        """The id of the run to create, whether it is resumed and recorded.

        Called by ``create_run`` (on rank 0 only under torch.distributed).
        """
        if not record:
            return run_id or _unrecorded_id(), resume, False
        if resume:
            registry = self.registry
            found = registry.get(run_id) if run_id else registry.last()
            if found is not None:
                return found.id, True, True
            if run_id is None:
                warnings.warn(exceptions.NoPreviousRunsWarning(), stacklevel=3)
            else:
                warnings.warn(
                    exceptions.NotExistingRunWarning(run_id), stacklevel=3
                )
        record_ = self.registry.register_new_run(
            run_id, commit=gitinfo.head_commit()
        )
        return record_.id, False, True

    @classmethod
    def get_current(cls) -> Experiment[Any]:
        """The experiment of the active run.

        Raises:
            NoActiveRunError: if no run of this class is active.
        """
        run = scope.active_run()
        if run is None or not isinstance(run.experiment, cls):
            experiment_class = None if cls is Experiment else cls
            raise exceptions.NoActiveRunError(
                experiment_class=experiment_class
            )
        return run.experiment

    @classmethod
    def get_config(cls) -> Any:
        """The configuration of the active run's experiment.

        Raises:
            NoActiveRunError: if no run of this class is active.
        """
        return cls.get_current().config


def _unrecorded_id() -> str:
    now = datetime.datetime.now()
    return f'{now.strftime(TS_FMT)}_{now.microsecond:06d}_{os.getpid()}'


class Run(Generic[_T]):
    """One execution of an experiment; a context manager.

    Attributes:
        id: the run id.
        resumed: whether it resumes a recorded run.
        record: whether it is recorded in the registry.
        status: created, running, completed, failed or interrupted.
        created_at: when the run object was created.
        metadata_manager: names and descriptions of its models and actors.
    """

    def __init__(
        self,
        experiment: Experiment[Any],
        run_id: str | None,
        resumed: bool = False,
        record: bool = True,
    ) -> None:
        """Args:
        experiment: the experiment it executes.
        run_id: the id; default: the current time.
        resumed: whether it resumes a recorded run.
        record: whether to record it in the registry (only rank 0 of a
            torch.distributed job records: other ranks never do).
        """  # noqa: D205
        self.created_at = datetime.datetime.now()
        self.id = naming.validate_name(
            run_id or self.created_at.strftime(TS_FMT), 'run id'
        )
        self._experiment = experiment
        self.resumed = resumed
        self.record = record and distributed.is_first_process()
        self.status: RunStatus = 'created'
        self.metadata_manager = MetadataManager()
        self._recorded = False
        self._key: tuple[str, str, str] | None = None
        self._dispatcher: track.EventDispatcher | None = None

    def __repr__(self) -> str:
        return f'{type(self).__name__}(id={self.id}, status={self.status})'

    @property
    def experiment(self) -> Experiment[Any]:
        """The experiment it executes."""
        return self._experiment

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies the run across Run objects (resume)."""
        if self._key is None:
            par_dir = str(self._experiment.par_dir.resolve())
            self._key = (par_dir, self._experiment.name, self.id)
        return self._key

    @property
    def created_at_str(self) -> str:
        """Creation time as ``%Y-%m-%d@%Hh%Mm%Ss``."""
        return self.created_at.strftime(TS_FMT)

    @property
    def trackers(self) -> tuple[track.Tracker, ...]:
        """The trackers the run notifies, in order (none before its start).

        A tracker detached after failing is no longer among them.
        """
        dispatcher = self._dispatcher
        if dispatcher is None:
            return ()
        return tuple(dispatcher.named_trackers.values())

    def is_active(self) -> bool:
        """Whether the run is running."""
        return self.status == 'running'

    def start(self) -> Run:
        """Start the run: record it ``running`` and make it the active run.

        Under torch.distributed, every rank must start the run: rank 0
        records it and publishes to the trackers; the other ranks publish
        to none, so that everything is logged and written once.

        Raises:
            NestedScopeError: if another run is active (nothing is changed).
            RunInUseError: if a live process is running this run (raised on
                every rank of a distributed job).
        """
        if self.status == 'running':
            warnings.warn(exceptions.RunAlreadyRunningWarning(), stacklevel=2)
            return self
        experiment = self._experiment
        with scope.lock:
            current = scope.active_run()
            if current is not None:
                raise exceptions.NestedScopeError(
                    current.experiment.name, experiment.name
                )
            error: Exception | None = None
            if self.record:
                try:
                    self._record_start()
                except Exception as exc:  # raised below, on every rank
                    error = exc
            # a failure of rank 0 must stop every rank, not leave the
            # others waiting for it in their first collective operation
            distributed.share_outcome(None, error)
            if self.status != 'created':
                self.resumed = True  # started again after it ended
            self.status = 'running'
            self._dispatcher = (
                _RunDispatcher(self, experiment.trackers)
                if distributed.is_first_process()
                else track.EventDispatcher(experiment.name)
            )
            scope.enter(self)
        try:
            self.publish(self._start_event())
        finally:
            # after the trackers heard of the start: what they registered
            # with atexit meanwhile then runs after the hook
            exit_hooks.install()
        return self

    def _record_start(self) -> None:
        registry = self._experiment.registry
        if not self._recorded:
            registry.register_new_run(self.id, commit=gitinfo.head_commit())
            self._recorded = True
        registry.mark_running(self.id)

    def _start_event(self) -> events.StartRunEvent:
        experiment = self._experiment
        return events.StartRunEvent(
            config=experiment.config,
            exp_name=experiment.name,
            run_ts=self.created_at,
            run_id=self.id,
            resumed=self.resumed,
            par_dir=experiment.par_dir,
            tags=list(experiment.tags),
        )

    def stop(self) -> None:
        """Stop the run and record it ``completed``."""
        if self.status == 'created':
            warnings.warn(exceptions.RunNotStartedWarning(), stacklevel=2)
            return
        if self.status != 'running':
            warnings.warn(
                exceptions.RunAlreadyCompletedWarning(), stacklevel=2
            )
            return
        self.finish('completed')

    def finish(self, status: RunStatus) -> None:
        """Stop the run, recording the given final status.

        The status is written to the registry first (atomically, flushed to
        disk), then the trackers hear of the stop, then the run stops being
        the active one; each step happens even if the one before failed.
        A slow tracker, or a kill while it works (the kernel manager's
        SIGTERM at a notebook's shutdown), thus never leaves the record
        behind, and trackers read the final status when they are told (see
        :mod:`drytorch.core.exit_hooks`).
        """
        if self.status != 'running':
            return
        experiment = self._experiment
        try:
            if self.record:
                experiment.registry.update_run_status(self.id, status)
        finally:
            try:
                self.publish(
                    events.StopRunEvent(
                        exp_name=experiment.name,
                        run_id=self.id,
                        status=status,
                    )
                )
            finally:
                self.status = status
                if self._dispatcher is not None:
                    self._dispatcher.close()
                scope.leave(self)

    def publish(self, event: events.Event) -> None:
        """Hand an event to the run's trackers.

        Raises:
            AccessOutsideScopeError: if the run is not running.
        """
        dispatcher = self._dispatcher
        if dispatcher is None or self.status != 'running':
            raise exceptions.AccessOutsideScopeError()
        dispatcher.publish(event)

    def __enter__(self) -> Run:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: object,
    ) -> None:
        if exc_type is None:
            status: RunStatus = 'completed'
        elif issubclass(exc_type, KeyboardInterrupt):
            status = 'interrupted'
        else:
            status = 'failed'
        self.finish(status)


class _RunDispatcher(track.EventDispatcher):
    """The trackers of one run: failures detach a tracker from it only.

    It follows the experiment's dispatcher, so a tracker subscribed while
    the run is active joins it and receives the run's start event first.
    """

    def __init__(
        self, run: Run, experiment_dispatcher: track.EventDispatcher
    ) -> None:
        super().__init__(experiment_dispatcher.exp_name)
        self._run = run
        self.named_trackers = dict(experiment_dispatcher.named_trackers)
        self._parent = experiment_dispatcher
        experiment_dispatcher._listeners.append(self)

    def _on_late_subscription(self, tracker: track.Tracker) -> None:
        if self._run.is_active():
            try:
                tracker.notify(self._run._start_event())
            except Exception as error:
                for name, other in list(self.named_trackers.items()):
                    if other is tracker:
                        self._detach(name, error)
