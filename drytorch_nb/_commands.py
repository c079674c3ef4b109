"""What the magics do, as plain functions usable without IPython.

Each magic parses its arguments, finds the experiment and calls one of
these. They use the public drytorch API only: ``Experiment.get_current``,
``Experiment.run``, ``Experiment.create_run``, ``Run.start/stop/finish``,
``Experiment.registry`` and ``Run.metadata_manager``.

One run is active per process. Starting a run while one is active is
refused (``NestedScopeError``) before anything is created or recorded: the
active run goes on untouched, and stopping it is left to the user, since
stopping it here would record it ``completed`` behind their back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from collections.abc import Iterator, Mapping
from typing import Any, get_args

from drytorch import Experiment
from drytorch.core import exceptions
from drytorch.core.experiment import Run, RunStatus
from drytorch.utils.formatting import (
    format_duration,
    format_metrics,
    format_number,
)
from drytorch.utils.model_summary import ModelSummary
from drytorch_nb import _model_card
from drytorch_nb._display import Report, Table, short_repr
from drytorch_nb._results import ResultsTable, read_results

__all__ = [
    'active_run',
    'cell_run',
    'list_runs',
    'start_run',
    'status',
    'stop_run',
]


def active_run() -> Run | None:
    """The active run of this process, or None."""
    try:
        return Experiment.get_current().run
    except exceptions.NoActiveRunError:
        return None


def _check_experiment(experiment: object) -> Experiment[Any]:
    if not isinstance(experiment, Experiment):
        msg = f'Expected an Experiment, got {type(experiment).__name__}.'
        raise TypeError(msg)
    return experiment


def start_run(
    experiment: Experiment[Any],
    *,
    run_id: str | None = None,
    resume: bool = False,
) -> Run:
    """Start a new run of the experiment, or resume a recorded one.

    The run stays active (across cells) until :func:`stop_run`.

    Args:
        experiment: the experiment to run.
        run_id: the run's id; with ``resume``, the run to resume
            (default: the run last started or resumed in the experiment).
        resume: resume a recorded run instead of starting a new one.

    Returns:
        The running run.

    Raises:
        TypeError: if ``experiment`` is not an Experiment.
        NestedScopeError: if a run is active; nothing is changed.
        RunAlreadyRecordedError: if a new run is asked for with an id that
            is already recorded.
        RunInUseError: if a live process is running the run to resume.
        InvalidNameError: if the id cannot be a folder name.
    """
    _check_experiment(experiment)
    current = active_run()
    if current is not None:
        # refused before create_run, so no orphan 'created' record is left
        raise exceptions.NestedScopeError(
            current.experiment.name, experiment.name
        )
    run = experiment.create_run(run_id=run_id, resume=resume)
    run.start()
    return run


def stop_run() -> Run | None:
    """Stop the active run, recording it ``completed``.

    Returns:
        The stopped run, or None if no run was active.
    """
    run = active_run()
    if run is None:
        return None
    run.stop()
    return run


@contextlib.contextmanager
def cell_run(
    experiment: Experiment[Any],
    *,
    run_id: str | None = None,
    resume: bool = False,
) -> Iterator[Run]:
    """Run a block inside a run that ends with it.

    The run is recorded ``completed`` if the block ends normally,
    ``interrupted`` on KeyboardInterrupt and ``failed`` on any other
    exception, which propagates. A run the block stops itself keeps the
    status it recorded.

    Args:
        experiment: the experiment to run.
        run_id: as for :func:`start_run`.
        resume: as for :func:`start_run`.

    Raises:
        The errors of :func:`start_run`, before the block runs.
    """
    run = start_run(experiment, run_id=run_id, resume=resume)
    try:
        yield run
    except KeyboardInterrupt:
        run.finish('interrupted')
        raise
    except BaseException:
        run.finish('failed')
        raise
    run.finish('completed')


def _config_rows(config: object) -> list[tuple[str, str]]:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        # a field kept out of the repr (a token, a password) stays out
        return [
            (
                field.name,
                short_repr(getattr(config, field.name, None))
                if field.repr
                else '(hidden: repr=False)',
            )
            for field in dataclasses.fields(config)
        ]
    if isinstance(config, Mapping):
        return [(str(key), short_repr(value)) for key, value in config.items()]
    return [('(value)', short_repr(config))]


def _models_and_actors(run: Run) -> list[tuple[str, str]]:
    """The names registered in the run: models, and actors per model."""
    actors: dict[str, list[str]] = {}
    for key, ref in list(run.metadata_manager.metadata_dict.items()):
        if ref() is None:
            continue
        # names are validated path components: a '/' separates scopes
        model, _, actor = key.partition('/')
        names = actors.setdefault(model, [])
        if actor:
            names.append(actor)
    return [(model, ', '.join(names)) for model, names in actors.items()]


def _live_objects(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's live models by name and actors by ``model/actor`` key."""
    models: dict[str, Any] = {}
    actors: dict[str, Any] = {}
    for key, ref in list(run.metadata_manager.metadata_dict.items()):
        obj = ref()
        if obj is not None:
            (actors if '/' in key else models)[key] = obj
    return models, actors


def _epoch_rows(models: Mapping[str, Any]) -> list[tuple[str, str]]:
    epochs = [
        (name, model.epoch)
        for name, model in models.items()
        if isinstance(getattr(model, 'epoch', None), int)
    ]
    if len(epochs) == 1:
        return [('Epoch', format_number(epochs[0][1]))]
    return [
        (f'Epoch of {name}', format_number(epoch)) for name, epoch in epochs
    ]


def _metric_rows(actors: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The latest metrics of each actor that computed some."""
    rows = []
    for key, actor in actors.items():
        metrics = getattr(actor, 'computed_metrics', None)
        if not isinstance(metrics, Mapping) or not metrics:
            continue
        model_name, _, actor_name = key.partition('/')
        epoch = getattr(getattr(actor, 'model', None), 'epoch', None)
        source = actor_name if epoch is None else f'{actor_name} @ {epoch}'
        rows.append((model_name, source, format_metrics(metrics, ', ')))
    return rows


def _card(name: str, model: Any) -> _model_card.ModelCard:
    summary = getattr(model, 'summary', None)
    result = summary() if callable(summary) else None
    card_summary = result if isinstance(result, ModelSummary) else None
    return _model_card.ModelCard(card_summary, name)


def status() -> Report:
    """The active run: experiment, progress, metrics, config, models.

    Shows the epoch of each model, the time since the run started, the
    latest metrics of each actor, the configuration, the names of models
    and actors, and a card per model (layers, parameters, sizes, shapes),
    from the live objects: the values are the current ones.

    Returns:
        A report, shown as HTML in a notebook and as text elsewhere.
    """
    run = active_run()
    if run is None:
        return Report(
            'No active run. Start one with %drytorch_start [EXPERIMENT].'
        )
    experiment = run.experiment
    models, actors = _live_objects(run)
    elapsed = (datetime.datetime.now() - run.created_at).total_seconds()
    summary = [
        ('Experiment', experiment.name),
        ('Class', type(experiment).__name__),
        ('Run id', run.id),
        ('Status', run.status),
        ('Resumed', 'yes' if run.resumed else 'no'),
        ('Elapsed', format_duration(elapsed)),
        *_epoch_rows(models),
        ('Tags', ', '.join(experiment.tags)),
        ('Folder', experiment.par_dir),
    ]
    return Report(
        Table('Active run', ('Field', 'Value'), summary),
        Table(
            'Latest metrics',
            ('Model', 'Source @ epoch', 'Metrics'),
            _metric_rows(actors),
            empty='No metrics yet.',
        ),
        Table(
            'Configuration',
            ('Field', 'Value'),
            _config_rows(experiment.config),
        ),
        Table(
            'Models and actors',
            ('Model', 'Actors'),
            _models_and_actors(run),
            empty='None registered yet.',
        ),
        *(_card(name, model) for name, model in models.items()),
    )


def _time(value: str | None) -> str:
    if not value:
        return ''
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.strftime('%Y-%m-%d %H:%M:%S')


def list_runs(
    experiment: Experiment[Any],
    *,
    status: str | None = None,
    last: int | None = None,
) -> Table:
    """The recorded runs of an experiment, oldest first, with results.

    Reading the registry records runs left ``running`` by dead processes as
    ``interrupted`` first, so the table tells how every run ended. Epochs,
    duration and final metrics come from each run's metric history; a run
    without one says so in the metrics column.

    Args:
        experiment: the experiment.
        status: only the runs with this status.
        last: only the last ``last`` runs (after the status filter).

    Returns:
        A table (id, status, creation, start and end times, commit,
        number of starts, epochs, duration, final metrics), shown as HTML
        in a notebook (the status coloured), text elsewhere.

    Raises:
        TypeError: if ``experiment`` is not an Experiment.
        ValueError: if the status is unknown or ``last`` is below 1.
    """
    _check_experiment(experiment)
    if status is not None and status not in get_args(RunStatus):
        msg = (
            f'Expected a status among {list(get_args(RunStatus))}, got '
            f'{status!r}.'
        )
        raise ValueError(msg)
    if last is not None and (isinstance(last, bool) or last < 1):
        msg = f'Expected a positive number of runs, got {last!r}.'
        raise ValueError(msg)
    records = experiment.registry.load_all()
    if status is not None:
        records = [record for record in records if record.status == status]
    if last is not None:
        records = records[-last:]
    exp_dir = experiment.registry.path
    rows = []
    for record in records:
        results = read_results(experiment.name, exp_dir, record)
        rows.append(
            (
                record.id,
                record.status,
                _time(record.created_at) or record.timestamp,
                _time(record.started_at),
                _time(record.ended_at),
                (record.commit or '')[:12],
                record.n_starts,
                results.epochs,
                results.duration,
                results.final_metrics(),
            )
        )
    title = f'Runs of experiment {experiment.name}'
    if status is not None:
        title += f', {status}'
    return ResultsTable(
        title,
        (
            'Run id',
            'Status',
            'Created',
            'Started',
            'Ended',
            'Commit',
            'Starts',
            'Epochs',
            'Duration',
            'Final metrics',
        ),
        rows,
        empty='No runs recorded.',
        status_column=1,
    )
