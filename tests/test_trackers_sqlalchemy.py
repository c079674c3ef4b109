"""Tests of drytorch.trackers.sqlalchemy: metric histories in a database.

Besides the round trip of the metrics: names are bound parameters, a resumed
run reuses its rows, the default database lives in par_dir (never in the
working directory), and a failing database is detached from that run only.

Every test that takes ``engine`` runs against SQLite and against a real
PostgreSQL server (tests/pg_server.py). The module is longer than most: its
tests share that fixture and the event helpers, which a split would only
move to a third module.
"""

from __future__ import annotations

import datetime
import math
import pathlib
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy
from conftest import RecordingTracker
from pg_server import (
    free_port,
    has_psycopg,
    postgres_url_fixture,  # noqa: F401
    require_or_skip,
)
from tiny_training import (
    Cfg,
    assert_history_is_logged,
    tiny_dataset,
    tiny_trainer,
    train_then_resume,
)

from drytorch.core import events, exceptions
from drytorch.core.experiment import Experiment
from drytorch.lib import evaluations
from drytorch.lib.load import DataLoader
from drytorch.trackers import sqlalchemy as sql_tracker
from drytorch.trackers.base_classes import MemoryMetrics
from drytorch.trackers.sqlalchemy import DB_FILE_NAME, SQLConnection

EXP = 'SqlExp'
RUN_TS = datetime.datetime(2026, 11, 27, 12, 8, 16)
MODEL_TS = datetime.datetime(2026, 11, 27, 12, 8, 17)
ACTOR_TS = datetime.datetime(2026, 11, 27, 12, 8, 20)
TABLES = {'experiments', 'tags', 'runs', 'sources', 'logs'}


@pytest.fixture(params=['sqlite', 'postgresql'])
def engine(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> Iterator[sqlalchemy.Engine]:
    if request.param == 'sqlite':
        url = f'sqlite:///{tmp_path / "test.db"}'
        new_engine = sqlalchemy.create_engine(url)
    else:
        url = request.getfixturevalue('postgres_url')
        new_engine = sqlalchemy.create_engine(url)
        with new_engine.begin() as connection:  # a clean database
            connection.execute(sqlalchemy.text('DROP SCHEMA public CASCADE'))
            connection.execute(sqlalchemy.text('CREATE SCHEMA public'))
    yield new_engine
    new_engine.dispose()


@pytest.fixture
def new_connection() -> Iterator[Callable[..., SQLConnection]]:
    """Make trackers that are cleaned up even when a test fails."""
    made: list[SQLConnection] = []

    def make(*args: object) -> SQLConnection:
        made.append(SQLConnection(*args))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for tracker in made:
        tracker.clean_up()


@pytest.fixture
def tracker(
    tmp_path: pathlib.Path,
    engine: sqlalchemy.Engine,
    new_connection: Callable[..., SQLConnection],
) -> SQLConnection:
    """A tracker on ``engine``, in the started run 'r1' of EXP."""
    started = new_connection(engine)
    started.notify(start(tmp_path))
    return started


class CommitCounter:
    """Counts the transactions committed through an engine."""

    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self.count = 0
        sqlalchemy.event.listen(engine, 'commit', self._on_commit)

    def _on_commit(self, connection: sqlalchemy.Connection) -> None:
        self.count += 1


def count_rows(engine: sqlalchemy.Engine, table: str) -> int:
    with engine.connect() as connection:
        query = sqlalchemy.text(f'SELECT COUNT(*) FROM {table}')
        return int(connection.execute(query).scalar_one())


def rows(engine: sqlalchemy.Engine, query: str) -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(row) for row in connection.execute(sqlalchemy.text(query))
        ]


def start(
    par_dir: pathlib.Path,
    run_id: str = 'r1',
    resumed: bool = False,
    tags: list[str] | None = None,
    exp_name: str = EXP,
) -> events.StartRunEvent:
    return events.StartRunEvent(
        config=None,
        exp_name=exp_name,
        run_ts=RUN_TS,
        run_id=run_id,
        resumed=resumed,
        par_dir=par_dir,
        tags=tags or [],
    )


def stop(run_id: str = 'r1') -> events.StopRunEvent:
    return events.StopRunEvent(exp_name=EXP, run_id=run_id)


def actor(
    source: str = 'Trainer', model: str = 'Lin'
) -> events.ActorRegistrationEvent:
    return events.ActorRegistrationEvent(
        actor_name=source,
        actor_ts=ACTOR_TS,
        model_name=model,
        model_ts=MODEL_TS,
        metadata={},
    )


def metric(
    epoch: int, source: str = 'Trainer', model: str = 'Lin', **values: float
) -> events.MetricEvent:
    return events.MetricEvent(
        model_name=model,
        source_name=source,
        epoch=epoch,
        metrics=values or {'MSE': epoch / 10},
    )


def end_epoch(epoch: int) -> events.EndEpochEvent:
    return events.EndEpochEvent('Trainer', 'Lin', epoch)


# ---------------------------------------------------------------- schema


def test_tables_and_indexes(
    tracker: SQLConnection,
    engine: sqlalchemy.Engine,
) -> None:
    inspector = sqlalchemy.inspect(engine)
    assert set(inspector.get_table_names()) == TABLES
    columns = {c['name'] for c in inspector.get_columns('logs')}
    assert columns == {
        'row_id',
        'source_id',
        'epoch',
        'metric_name',
        'value',
        'created_at',
    }
    indexed = {
        tuple(index['column_names']) for index in inspector.get_indexes('logs')
    }
    assert ('source_id', 'epoch') in indexed
    indexed = {
        tuple(index['column_names'])
        for index in inspector.get_indexes('sources')
    }
    assert ('run_table_id', 'model_name') in indexed
    tracker.notify(stop())


def test_url_instead_of_engine(
    tmp_path: pathlib.Path,
    new_connection: Callable[..., SQLConnection],
) -> None:
    tracker = new_connection(f'sqlite:///{tmp_path / "by_url.db"}')
    tracker.notify(start(tmp_path / 'exp'))
    tracker.notify(metric(1))
    tracker.notify(stop())
    assert (tmp_path / 'by_url.db').is_file()
    assert not (tmp_path / 'exp' / DB_FILE_NAME).exists()


# --------------------------------------------------------------- metrics


def test_load_metrics_equals_what_was_logged(
    tracker: SQLConnection,
    engine: sqlalchemy.Engine,
) -> None:
    tracker.notify(actor())
    tracker.notify(actor('Validation'))
    tracker.notify(actor('Trainer', model='Other'))
    for epoch in (1, 2, 3):
        tracker.notify(metric(epoch, Loss=epoch * 1.5, Acc=1 / (epoch + 2)))
        tracker.notify(metric(epoch, 'Validation', Loss=-epoch * 0.1))
        tracker.notify(metric(epoch, model='Other', Loss=100.0 + epoch))
        tracker.notify(end_epoch(epoch))
    assert tracker.load_metrics('Lin') == {
        'Trainer': (
            [1, 2, 3],
            {'Loss': [1.5, 3.0, 4.5], 'Acc': [1 / 3, 1 / 4, 1 / 5]},
        ),
        'Validation': (
            [1, 2, 3],
            {'Loss': [-0.1, -0.2, -0.30000000000000004]},
        ),
    }
    assert tracker.load_metrics('Lin', max_epoch=2)['Trainer'] == (
        [1, 2],
        {'Loss': [1.5, 3.0], 'Acc': [1 / 3, 1 / 4]},
    )
    assert tracker.load_metrics('Other') == {
        'Trainer': ([1, 2, 3], {'Loss': [101.0, 102.0, 103.0]})
    }
    assert tracker.load_metrics('Lin', max_epoch=0) == {}
    assert tracker.load_metrics('Missing') == {}
    with pytest.raises(ValueError, match='max_epoch'):
        tracker.load_metrics('Lin', max_epoch=-2)
    tracker.notify(stop())


def test_pending_values_are_loaded_too(
    tracker: SQLConnection,
    engine: sqlalchemy.Engine,
) -> None:
    tracker.notify(actor())
    tracker.notify(metric(1))  # no end of epoch yet
    assert tracker.load_metrics('Lin') == {'Trainer': ([1], {'MSE': [0.1]})}
    tracker.notify(stop())


def test_names_and_special_values_round_trip(
    tracker: SQLConnection, engine: sqlalchemy.Engine
) -> None:
    """Names are bound parameters, never part of the SQL text."""
    names = ['Top-1 (%), "q"', "a'); DROP TABLE logs; --", 'ünï\n%s']
    tracker.notify(actor())
    tracker.notify(metric(1, **dict.fromkeys(names, 0.25), nan=math.nan))
    tracker.notify(metric(2, **dict.fromkeys(names, math.inf), nan=1.0))
    tracker.notify(end_epoch(2))
    epochs, logs = tracker.load_metrics('Lin')['Trainer']
    assert epochs == [1, 2]
    assert list(logs) == [*names, 'nan']
    assert logs[names[1]] == [0.25, math.inf]
    assert math.isnan(logs['nan'][0])
    assert logs['nan'][1] == 1.0
    assert count_rows(engine, 'logs') == 8
    tracker.notify(stop())


def test_unregistered_source_gets_a_row(
    tracker: SQLConnection,
    engine: sqlalchemy.Engine,
) -> None:
    """A tracker that joined late still records (the reference raises)."""
    tracker.notify(metric(1))
    tracker.notify(metric(2))
    tracker.notify(stop())
    assert rows(
        engine, 'SELECT model_name, source_name, model_ts FROM sources'
    ) == [('Lin', 'Trainer', None)]
    assert count_rows(engine, 'logs') == 2


def test_run_property(
    tmp_path: pathlib.Path,
    engine: sqlalchemy.Engine,
    new_connection: Callable[..., SQLConnection],
) -> None:
    tracker = new_connection(engine)
    with pytest.raises(exceptions.AccessOutsideScopeError):
        _ = tracker.run
    tracker.notify(start(tmp_path, run_id='r7'))
    run = tracker.run
    assert isinstance(run, sql_tracker.Run)
    assert (run.run_id, run.run_ts) == ('r7', RUN_TS)
    tracker.notify(stop('r7'))
    with pytest.raises(exceptions.AccessOutsideScopeError):
        tracker.load_metrics('Lin')


# -------------------------------------------------------------- batching


def test_one_transaction_per_epoch_whatever_the_metrics(
    tracker: SQLConnection,
    engine: sqlalchemy.Engine,
) -> None:
    commits = CommitCounter(engine)
    tracker.notify(actor())
    tracker.notify(actor('Validation'))
    many = {f'metric_{i}': float(i) for i in range(50)}
    for epoch in (1, 2, 3):
        tracker.notify(metric(epoch, **many))
        tracker.notify(metric(epoch, 'Validation', **many))
        assert commits.count == epoch - 1  # nothing written mid-epoch
        tracker.notify(end_epoch(epoch))
        assert commits.count == epoch
    assert count_rows(engine, 'logs') == 3 * 2 * 50
    tracker.notify(stop())
    assert commits.count == 3  # nothing was pending at the stop


@pytest.mark.parametrize(
    'boundary',
    [
        events.EndTestEvent('Test', 'Lin'),
        events.StopRunEvent(exp_name=EXP, run_id='r1'),
    ],
    ids=['end_test', 'stop'],
)
def test_other_flush_points(
    tracker: SQLConnection,
    engine: sqlalchemy.Engine,
    boundary: events.Event,
) -> None:
    commits = CommitCounter(engine)
    tracker.notify(actor('Test'))
    tracker.notify(metric(2, 'Test', MAE=0.5, MSE=0.25))
    assert count_rows(engine, 'logs') == 0
    tracker.notify(boundary)
    assert commits.count == 1
    assert count_rows(engine, 'logs') == 2
    tracker.clean_up()


def test_large_buffers_are_written_early(
    tracker: SQLConnection, engine: sqlalchemy.Engine
) -> None:
    tracker.max_pending = 10
    commits = CommitCounter(engine)
    tracker.notify(metric(1, **{f'm{i}': 1.0 for i in range(6)}))
    assert commits.count == 0
    tracker.notify(metric(1, 'Validation', **{f'm{i}': 1.0 for i in range(6)}))
    assert commits.count == 1
    assert count_rows(engine, 'logs') == 12
    tracker.notify(stop())


# ------------------------------------------------------------- resume


def test_resume_reuses_experiment_and_run_rows(
    tmp_path: pathlib.Path,
    engine: sqlalchemy.Engine,
    new_connection: Callable[..., SQLConnection],
) -> None:
    """A resumed run adds no experiment row and no run row."""
    tracker = new_connection(engine)
    tracker.notify(start(tmp_path, tags=['a', 'b']))
    tracker.notify(actor())
    tracker.notify(metric(1))
    tracker.notify(stop())
    tracker = new_connection(engine)  # as in a new process
    tracker.notify(start(tmp_path, resumed=True, tags=['a', 'b', 'c']))
    tracker.notify(actor())  # the same actor again
    tracker.notify(metric(2))
    tracker.notify(stop())
    assert count_rows(engine, 'experiments') == 1
    assert count_rows(engine, 'runs') == 1
    assert count_rows(engine, 'sources') == 1
    assert sorted(r[0] for r in rows(engine, 'SELECT text FROM tags')) == [
        'a',
        'b',
        'c',
    ]
    tracker.notify(start(tmp_path, run_id='r2'))  # another run
    tracker.notify(start(tmp_path, exp_name='Other'))  # another experiment
    tracker.notify(start(tmp_path / 'elsewhere'))  # another folder
    tracker.notify(stop())
    assert count_rows(engine, 'experiments') == 3
    assert count_rows(engine, 'runs') == 4


def test_resumed_history_is_contiguous(
    tmp_path: pathlib.Path, tracker: SQLConnection
) -> None:
    for epoch in (1, 2, 3, 4):
        tracker.notify(metric(epoch))
        tracker.notify(end_epoch(epoch))
    tracker.notify(stop())
    tracker.notify(start(tmp_path, resumed=True))
    for epoch in (3, 4, 5):  # resumed from the checkpoint of epoch 2
        tracker.notify(metric(epoch, MSE=epoch * 10.0))
        tracker.notify(end_epoch(epoch))
    assert tracker.load_metrics('Lin') == {
        'Trainer': ([1, 2, 3, 4, 5], {'MSE': [0.1, 0.2, 30.0, 40.0, 50.0]})
    }
    tracker.notify(stop())


# ----------------------------------------------------- default database


def test_default_database_is_inside_par_dir(
    tmp_path: pathlib.Path,
    recorder: RecordingTracker,
    new_connection: Callable[..., SQLConnection],
) -> None:
    """The default database is in par_dir, not the working directory."""
    tracker = new_connection()
    with pytest.raises(exceptions.AccessOutsideScopeError):
        _ = tracker.engine
    exp = Experiment(Cfg(), name=EXP, par_dir='outputs')  # relative
    exp.trackers.subscribe(tracker)
    with exp.create_run(run_id='r1'):
        tiny_trainer().train(1)
    assert pathlib.Path.cwd() == tmp_path
    assert (tmp_path / 'outputs' / DB_FILE_NAME).is_file()
    assert not (tmp_path / DB_FILE_NAME).exists()
    assert list(tmp_path.glob('*.db')) == []
    db = sqlalchemy.create_engine(
        f'sqlite:///{tmp_path / "outputs" / DB_FILE_NAME}'
    )
    assert rows(db, 'SELECT experiment_name, par_dir FROM experiments') == [
        (EXP, str((tmp_path / 'outputs').resolve()))
    ]
    db.dispose()


def test_default_database_follows_the_experiment(
    tmp_path: pathlib.Path,
    new_connection: Callable[..., SQLConnection],
) -> None:
    tracker = new_connection()
    tracker.notify(start(tmp_path / 'one'))
    tracker.notify(metric(1))
    tracker.notify(stop())
    tracker.notify(start(tmp_path / 'two'))
    tracker.notify(metric(1))
    tracker.notify(stop())
    for folder in ('one', 'two'):
        db = sqlalchemy.create_engine(
            f'sqlite:///{tmp_path / folder / DB_FILE_NAME}'
        )
        assert count_rows(db, 'logs') == 1
        db.dispose()


# ------------------------------------------------------------ end to end


def test_end_to_end_batching_and_loaded_history(
    tmp_path: pathlib.Path,
    engine: sqlalchemy.Engine,
    new_connection: Callable[..., SQLConnection],
) -> None:
    tracker = new_connection(engine)
    memory = MemoryMetrics()
    exp = Experiment(Cfg(), name=EXP, par_dir=tmp_path, tags=['e2e'])
    exp.trackers.subscribe(tracker, memory)
    with exp.create_run(run_id='r1'):
        trainer = tiny_trainer()
        commits = CommitCounter(engine)
        trainer.train(3)
        assert commits.count == 3  # one transaction per epoch
        test = evaluations.Test(
            trainer.model,
            loader=DataLoader(tiny_dataset(), 4),
            metric=trainer.objective,
        )
        test()
        assert commits.count == 4  # and one for the test
        assert tracker.load_metrics('Lin') == memory.model_dict['Lin']
        assert set(memory.model_dict['Lin']) == {
            'Trainer',
            'Validation',
            'Test',
        }
    assert count_rows(engine, 'logs') == 3 + 3 + 1


def test_end_to_end_resume(
    tmp_path: pathlib.Path,
    engine: sqlalchemy.Engine,
    recorder: RecordingTracker,
    new_connection: Callable[..., SQLConnection],
) -> None:
    tracker = new_connection(engine)
    exp = Experiment(Cfg(), name=EXP, par_dir=tmp_path, tags=['t'])
    exp.trackers.subscribe(tracker, recorder)
    history = train_then_resume(exp, tracker)
    assert count_rows(engine, 'experiments') == 1
    assert count_rows(engine, 'runs') == 1
    assert count_rows(engine, 'tags') == 1
    assert_history_is_logged(history, recorder)


# ----------------------------------------------------------- failures


def test_failing_database_detaches_for_that_run_only(
    tmp_path: pathlib.Path,
    recorder: RecordingTracker,
    new_connection: Callable[..., SQLConnection],
) -> None:
    """The run goes on without it; the next run uses the tracker again."""
    blocker = tmp_path / DB_FILE_NAME
    blocker.mkdir()  # SQLite cannot open a folder
    tracker = new_connection()
    exp = Experiment(Cfg(), name=EXP, par_dir=tmp_path)
    exp.trackers.subscribe(tracker, recorder)
    with pytest.warns(exceptions.TrackerExceptionWarning, match='SQLConn'):
        run = exp.create_run(run_id='r1').start()
    tiny_trainer().train(2)
    run.stop()
    assert len(recorder.of_type(events.EndEpochEvent)) == 2
    assert 'SQLConnection' in exp.trackers.named_trackers
    blocker.rmdir()
    with exp.create_run(run_id='r2'):
        tiny_trainer().train(1)
        assert tracker.load_metrics('Lin')['Trainer'][0] == [1]


def test_unreachable_server_is_rejected_at_construction(
    tmp_path: pathlib.Path,
) -> None:
    """As in 0.1.0rc5: a bad engine fails before any training."""
    require_or_skip(has_psycopg(), 'The psycopg driver')
    url = f'postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres'
    with pytest.raises(sqlalchemy.exc.OperationalError):
        SQLConnection(url)
    engine = sqlalchemy.create_engine(url)
    with pytest.raises(sqlalchemy.exc.OperationalError):
        SQLConnection(engine)
    engine.dispose()


@pytest.mark.parametrize('bad', [42, 'not a url', object()])
def test_bad_engine_is_rejected_at_construction(bad: object) -> None:
    error = (
        TypeError if not isinstance(bad, str) else sqlalchemy.exc.ArgumentError
    )
    with pytest.raises(error):
        SQLConnection(bad)  # type: ignore[arg-type]


def test_session_factory_is_bound_to_the_engine(
    tracker: SQLConnection,
    engine: sqlalchemy.Engine,
) -> None:
    tracker.notify(actor())
    tracker.notify(metric(1, MSE=0.5))
    tracker.notify(end_epoch(1))
    with tracker.session_factory() as session:
        run = session.scalars(sqlalchemy.select(sql_tracker.Run)).one()
        assert run.run_id == 'r1'
        values = session.scalars(sqlalchemy.select(sql_tracker.Log.value))
        assert list(values) == [0.5]
    tracker.notify(stop())


def test_default_session_factory_binds_when_the_run_starts(
    tmp_path: pathlib.Path,
    new_connection: Callable[..., SQLConnection],
) -> None:
    tracker = new_connection()
    with pytest.raises(sqlalchemy.exc.UnboundExecutionError):
        with tracker.session_factory() as session:
            session.execute(sqlalchemy.text('SELECT 1'))
    tracker.notify(start(tmp_path))
    with tracker.session_factory() as session:
        assert session.scalars(
            sqlalchemy.select(sql_tracker.Run.run_id)
        ).all() == ['r1']
    tracker.notify(stop())


def test_schema_creation_is_idempotent(
    engine: sqlalchemy.Engine,
    new_connection: Callable[..., SQLConnection],
) -> None:
    new_connection(engine)
    new_connection(engine)  # the tables exist: nothing happens, no error
    inspector = sqlalchemy.inspect(engine)
    assert set(inspector.get_table_names()) >= TABLES


def test_server_gone_mid_run(
    tmp_path: pathlib.Path,
    engine: sqlalchemy.Engine,
    recorder: RecordingTracker,
    new_connection: Callable[..., SQLConnection],
) -> None:
    """A write that fails mid-run detaches the tracker; training goes on."""
    tracker = new_connection(engine)
    exp = Experiment(Cfg(), name=EXP, par_dir=tmp_path)
    exp.trackers.subscribe(tracker, recorder)
    with exp.create_run(run_id='r1'):
        trainer = tiny_trainer()
        trainer.train(1)
        with engine.begin() as connection:  # the table disappears
            connection.execute(sqlalchemy.text('DROP TABLE logs'))
        with pytest.warns(exceptions.TrackerExceptionWarning):
            trainer.train(2)
    assert len(recorder.of_type(events.EndEpochEvent)) == 3


# ------------------------------------------------------- the pg fixture


def test_missing_postgres_fails_under_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv('CI', 'true')
    with pytest.raises(pytest.fail.Exception, match='CI must run'):
        require_or_skip(False, 'PostgreSQL')
    monkeypatch.delenv('CI')
    with pytest.raises(pytest.skip.Exception, match='PostgreSQL'):
        require_or_skip(False, 'PostgreSQL')
    require_or_skip(True, 'PostgreSQL')  # available: nothing happens
