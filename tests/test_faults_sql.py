"""The SQL tracker when several processes start runs on a new database.

Six forked processes wait at a barrier, then each creates its tracker, starts
a run of its own experiment (experiments do not share a registry lock, so
the starts really overlap) and logs three epochs of two metrics, on one
fresh SQLite file (the default database in the shared ``par_dir``) or one
fresh PostgreSQL database (tests/pg_server.py). Every run must keep all its
rows: creating the tables must not race.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import pathlib
import warnings

import pytest
import sqlalchemy
from pg_server import postgres_url_fixture  # noqa: F401

from drytorch.core import events, exceptions
from drytorch.core.experiment import Experiment
from drytorch.trackers.sqlalchemy import SQLConnection

pytestmark = pytest.mark.skipif(
    not hasattr(os, 'fork'), reason='the processes are forked'
)

N_PROCESSES = 6
N_EPOCHS = 3


@dataclasses.dataclass(frozen=True)
class _Config:
    x: int = 1


def _child(par_dir: pathlib.Path, url: str, index: int) -> list[str]:
    """Start a run of its own experiment and log; return tracker failures."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        tracker = SQLConnection(None if url == '-' else url)
        exp = Experiment(_Config(), name=f'Race{index}', par_dir=par_dir)
        exp.trackers.subscribe(tracker)
        with exp.create_run(run_id=f'p{index}') as run:
            now = datetime.datetime.now()
            run.publish(
                events.ActorRegistrationEvent(
                    actor_name='T',
                    actor_ts=now,
                    model_name='M',
                    model_ts=now,
                    metadata={},
                )
            )
            for epoch in range(1, N_EPOCHS + 1):
                run.publish(
                    events.MetricEvent(
                        model_name='M',
                        source_name='T',
                        epoch=epoch,
                        metrics={'a': epoch, 'b': index},
                    )
                )
                run.publish(events.EndEpochEvent('T', 'M', epoch))
        tracker.clean_up()
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, exceptions.TrackerExceptionWarning)
    ]


def _race(par_dir: pathlib.Path, url: str) -> None:
    """Fork the processes; release them together; check each succeeded."""
    go_read, go_write = os.pipe()
    children: dict[int, int] = {}  # pid: read end of its report
    for index in range(N_PROCESSES):
        report_read, report_write = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                os.close(go_write)
                os.read(go_read, 1)  # the barrier: wait for the parent
                failures = _child(par_dir, url, index)
                os.write(report_write, '\n'.join(failures).encode())
                code = 0 if not failures else 2
            except BaseException as error:
                os.write(report_write, repr(error).encode())
            finally:
                os._exit(code)
        os.close(report_write)
        children[pid] = report_read
    os.close(go_read)
    os.write(go_write, b'x' * N_PROCESSES)  # all start at once
    os.close(go_write)
    results = []
    for pid, report_read in children.items():
        with os.fdopen(report_read, 'rb') as stream:
            report = stream.read().decode()
        _, status = os.waitpid(pid, 0)
        results.append((os.waitstatus_to_exitcode(status), report))
    assert results == [(0, '')] * N_PROCESSES


def _check_rows(engine: sqlalchemy.Engine) -> None:
    with engine.connect() as connection:
        run_ids = connection.scalars(
            sqlalchemy.text('SELECT run_id FROM runs ORDER BY run_id')
        ).all()
        counts = connection.execute(
            sqlalchemy.text(
                'SELECT runs.run_id, COUNT(logs.row_id) FROM logs '
                'JOIN sources ON logs.source_id = sources.row_id '
                'JOIN runs ON sources.run_table_id = runs.row_id '
                'GROUP BY runs.run_id'
            )
        ).all()
        n_experiments = connection.scalar(
            sqlalchemy.text('SELECT COUNT(*) FROM experiments')
        )
    assert run_ids == [f'p{i}' for i in range(N_PROCESSES)]
    assert dict(counts) == {f'p{i}': 2 * N_EPOCHS for i in range(N_PROCESSES)}
    assert n_experiments == N_PROCESSES


@pytest.mark.slow
def test_processes_starting_on_a_new_sqlite_database_keep_their_rows(
    tmp_path: pathlib.Path,
) -> None:
    par_dir = tmp_path / 'shared'
    _race(par_dir, '-')  # the default database: metrics.db in par_dir
    engine = sqlalchemy.create_engine(f'sqlite:///{par_dir / "metrics.db"}')
    try:
        _check_rows(engine)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_processes_starting_on_a_new_postgres_database_keep_their_rows(
    tmp_path: pathlib.Path, postgres_url: str
) -> None:
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.begin() as connection:  # a fresh, empty database
            connection.execute(sqlalchemy.text('DROP SCHEMA public CASCADE'))
            connection.execute(sqlalchemy.text('CREATE SCHEMA public'))
        _race(tmp_path / 'shared', postgres_url)
        _check_rows(engine)
    finally:
        engine.dispose()
