"""Metrics in a SQL database, through SQLAlchemy 2.

:class:`SQLConnection` stores experiments, their tags, runs, sources (the
actors that compute metrics, with their model) and metric values in five
tables:

* ``experiments``: one row per experiment name and output folder;
* ``tags``: the experiment's tags, each once;
* ``runs``: one row per run id of an experiment; a resumed run reuses it;
* ``sources``: one row per actor and model of a run;
* ``logs``: one row per metric value (source, epoch, name, value, time).

Without an engine, the database is the SQLite file ``metrics.db`` in the
experiment's ``par_dir``, created when the first run starts. An engine or a
URL given to the constructor is connected to at once: a bad one raises
there, before any training (as in drytorch 0.1.0rc5).

Creating the tables is idempotent and safe when several processes start
runs on a new database at once (see :mod:`drytorch.trackers._sql_schema`).

Writes are batched: metric values are kept in memory and written in one
transaction at the end of each epoch and test, when the run stops, and when
many are pending. History read back follows the rules of
:func:`drytorch.trackers.csv.resolve_history`: metrics logged again for an
epoch (training resumed from an earlier checkpoint) replace the history
from that epoch on.
"""

from __future__ import annotations

import datetime
import math
import pathlib
from typing import Any, TypeAlias

try:
    import sqlalchemy
    from sqlalchemy import orm
except ImportError as _error:
    _msg = "The SQL tracker needs the 'sql' extra: pip install 'drytorch[sql]'"
    raise ImportError(_msg, name='sqlalchemy') from _error

from drytorch.core import events, exceptions
from drytorch.core.track import Tracker, on
from drytorch.trackers._metric_history import MetricLoader, SourcedMetrics
from drytorch.trackers._sql_schema import (
    Base,
    Experiment,
    Log,
    Run,
    Source,
    Tags,
    create_schema,
)
from drytorch.trackers.csv import resolve_history

__all__ = [
    'DB_FILE_NAME',
    'Experiment',
    'Log',
    'Run',
    'SQLConnection',
    'Source',
    'Tags',
]

DB_FILE_NAME = 'metrics.db'
"""File name of the default SQLite database, in the experiment's par_dir."""

# (model name, model ts, source name, source ts): a source row of the run
_SourceKey: TypeAlias = tuple[
    str, datetime.datetime | None, str, datetime.datetime | None
]


class SQLConnection(Tracker, MetricLoader):
    """Store the metrics of the runs in a SQL database.

    Attributes:
        max_pending: the number of pending metric values that triggers a
            write before the end of the epoch.
        session_factory: makes ORM sessions bound to the engine (bound
            when the default engine is made, at the start of a run).
    """

    max_pending: int = 10_000

    def __init__(
        self, engine: sqlalchemy.Engine | str | sqlalchemy.URL | None = None
    ) -> None:
        """Create the tracker.

        Args:
            engine: an engine, or a database URL; default: the SQLite file
                ``metrics.db`` in the experiment's par_dir, opened when a
                run starts.

        Raises:
            TypeError: if engine is not an engine, a URL or None.
            sqlalchemy.exc.ArgumentError: if the URL cannot be parsed.
            sqlalchemy.exc.SQLAlchemyError: if the database given cannot be
                connected to or its tables cannot be created.
        """
        super().__init__()
        if isinstance(engine, str | sqlalchemy.URL):
            engine = sqlalchemy.create_engine(engine)
        elif engine is not None and not isinstance(engine, sqlalchemy.Engine):
            msg = (
                'Expected a sqlalchemy Engine, a database URL or None, got '
                f'{type(engine).__name__}.'
            )
            raise TypeError(msg)
        self.session_factory: orm.sessionmaker[orm.Session] = orm.sessionmaker(
            bind=engine
        )
        if engine is not None:
            create_schema(engine)  # a bad engine fails here, not mid-run
        self._user_engine = engine
        self._engine: sqlalchemy.Engine | None = engine
        self._default_path: pathlib.Path | None = None
        self._run_row_id: int | None = None
        self._pending_logs: list[tuple[_SourceKey, int, str, float, Any]] = []
        self._pending_sources: dict[_SourceKey, None] = {}
        self._latest_source: dict[tuple[str, str], _SourceKey] = {}
        self._source_ids: dict[_SourceKey, int] = {}

    @property
    def engine(self) -> sqlalchemy.Engine:
        """The engine in use.

        Raises:
            AccessOutsideScopeError: if the default engine is asked for
                before a run starts.
        """
        if self._engine is None:
            raise exceptions.AccessOutsideScopeError()
        return self._engine

    @property
    def run(self) -> Run:
        """The row of the current run (detached from any session).

        Raises:
            AccessOutsideScopeError: outside a run.
        """
        row_id = self._require_run()
        with orm.Session(self.engine) as session:
            row = session.get(Run, row_id)
            if row is None:
                raise exceptions.TrackerError(
                    self, f'Expected run row {row_id}, found none.'
                )
            session.expunge(row)
        return row

    @on(events.StartRunEvent)
    def _sql_on_start(self, event: events.StartRunEvent) -> None:
        self._forget_run()
        par_dir = pathlib.Path(event.par_dir).resolve()
        engine = self._engine_for(par_dir)
        # checked at every start: cheap, and the database may have changed
        create_schema(engine)
        try:
            self._run_row_id = self._register_run(engine, event, par_dir)
        except sqlalchemy.exc.IntegrityError:
            # another process inserted the same experiment/run meanwhile
            self._run_row_id = self._register_run(engine, event, par_dir)

    @on(events.ActorRegistrationEvent)
    def _sql_on_actor(self, event: events.ActorRegistrationEvent) -> None:
        key = (
            event.model_name,
            event.model_ts,
            event.actor_name,
            event.actor_ts,
        )
        self._latest_source[event.model_name, event.actor_name] = key
        if key not in self._source_ids:
            self._pending_sources[key] = None

    @on(events.MetricEvent)
    def _sql_on_metric(self, event: events.MetricEvent) -> None:
        self._require_run()
        names = (event.model_name, event.source_name)
        key = self._latest_source.get(names)
        if key is None:
            key = (event.model_name, None, event.source_name, None)
            self._latest_source[names] = key
        epoch = int(event.epoch)
        now = datetime.datetime.now()
        pending = self._pending_logs
        for name, value in event.metrics.items():
            pending.append((key, epoch, name, float(value), now))
        if len(pending) >= self.max_pending:
            self.flush()

    @on(
        events.EndEpochEvent,
        events.EndTestEvent,
        events.StopRunEvent,
    )
    def _sql_on_boundary(self, event: events.Event) -> None:
        self.flush()

    def flush(self) -> None:
        """Write the pending sources and metric values in one transaction.

        Pending values are dropped if the write fails (the error is
        raised): nothing is written twice.
        """
        if not self._pending_logs and not self._pending_sources:
            return
        run_row_id = self._require_run()
        logs, self._pending_logs = self._pending_logs, []
        sources, self._pending_sources = self._pending_sources, {}
        new_ids: dict[_SourceKey, int] = {}
        with self.engine.begin() as connection:
            needed = dict.fromkeys(sources)
            for log in logs:
                needed.setdefault(log[0])
            for key in needed:
                if key not in self._source_ids:
                    new_ids[key] = self._source_row(
                        connection, run_row_id, key
                    )
            ids = {**self._source_ids, **new_ids}
            if logs:
                connection.execute(
                    sqlalchemy.insert(Log),
                    [
                        {
                            'source_id': ids[key],
                            'epoch': epoch,
                            'metric_name': name,
                            'value': None if math.isnan(value) else value,
                            'created_at': created_at,
                        }
                        for key, epoch, name, value, created_at in logs
                    ],
                )
        self._source_ids.update(new_ids)  # only once committed

    def clean_up(self) -> None:
        """Write what is pending, close the connections, forget the run."""
        try:
            if self._run_row_id is not None:
                self.flush()
        finally:
            self._forget_run()
            if self._engine is not None:
                self._engine.dispose()
            super().clean_up()

    def _load_metrics(self, model_name: str, max_epoch: int) -> SourcedMetrics:
        run_row_id = self._require_run()
        self.flush()
        query = (
            sqlalchemy.select(
                Source.source_name, Log.epoch, Log.metric_name, Log.value
            )
            .join(Source, Log.source_id == Source.row_id)
            .where(
                Source.run_table_id == run_row_id,
                Source.model_name == model_name,
            )
            .order_by(Log.row_id)
        )
        if max_epoch != -1:
            query = query.where(Log.epoch <= max_epoch)
        by_source: dict[str, list[tuple[int, dict[str, float]]]] = {}
        with self.engine.connect() as connection:
            for source_name, epoch, name, value in connection.execute(query):
                rows = by_source.setdefault(source_name, [])
                number = math.nan if value is None else float(value)
                # Values of one event are consecutive: a new row starts
                # when the epoch changes or a metric appears again.
                if rows and rows[-1][0] == epoch and name not in rows[-1][1]:
                    rows[-1][1][name] = number
                else:
                    rows.append((epoch, {name: number}))
        return {
            source: resolve_history(rows)
            for source, rows in sorted(by_source.items())
        }

    def _engine_for(self, par_dir: pathlib.Path) -> sqlalchemy.Engine:
        if self._user_engine is not None:
            return self._user_engine
        path = par_dir / DB_FILE_NAME
        if self._engine is None or self._default_path != path:
            if self._engine is not None:
                self._engine.dispose()
            par_dir.mkdir(parents=True, exist_ok=True)
            url = sqlalchemy.URL.create('sqlite', database=str(path))
            self._engine = sqlalchemy.create_engine(url)
            self.session_factory.configure(bind=self._engine)
            self._default_path = path
        return self._engine

    def _register_run(
        self,
        engine: sqlalchemy.Engine,
        event: events.StartRunEvent,
        par_dir: pathlib.Path,
    ) -> int:
        """Find or insert the experiment, its tags and the run."""
        with engine.begin() as connection:
            experiment_id = _find_or_insert(
                connection,
                Experiment,
                experiment_name=event.exp_name,
                par_dir=str(par_dir),
            )
            found = set(
                connection.scalars(
                    sqlalchemy.select(Tags.text).where(
                        Tags.experiment_id == experiment_id
                    )
                )
            )
            new_tags = [tag for tag in dict.fromkeys(event.tags) if tag]
            new_tags = [tag for tag in new_tags if tag not in found]
            if new_tags:
                connection.execute(
                    sqlalchemy.insert(Tags),
                    [
                        {'experiment_id': experiment_id, 'text': tag}
                        for tag in new_tags
                    ],
                )
            return _find_or_insert(
                connection,
                Run,
                {'run_ts': event.run_ts},
                experiment_id=experiment_id,
                run_id=event.run_id,
            )

    @staticmethod
    def _source_row(
        connection: sqlalchemy.Connection, run_row_id: int, key: _SourceKey
    ) -> int:
        model_name, model_ts, source_name, source_ts = key
        return _find_or_insert(
            connection,
            Source,
            model_name=model_name,
            model_ts=model_ts,
            source_name=source_name,
            source_ts=source_ts,
            run_table_id=run_row_id,
        )

    def _require_run(self) -> int:
        if self._run_row_id is None:
            raise exceptions.AccessOutsideScopeError()
        return self._run_row_id

    def _forget_run(self) -> None:
        self._run_row_id = None
        self._pending_logs = []
        self._pending_sources = {}
        self._latest_source = {}
        self._source_ids = {}


def _find_or_insert(
    connection: sqlalchemy.Connection,
    table: type[Base],
    extra: dict[str, Any] | None = None,
    **keys: Any,
) -> int:
    """The row id of the row with these values, inserted if missing."""
    mapper = sqlalchemy.inspect(table)
    columns = mapper.columns
    conditions = [
        columns[name].is_(None) if value is None else columns[name] == value
        for name, value in keys.items()
    ]
    select = sqlalchemy.select(columns['row_id']).where(*conditions)
    row_id = connection.scalars(select.limit(1)).first()
    if row_id is not None:
        return int(row_id)
    result = connection.execute(
        sqlalchemy.insert(table).values(**keys, **(extra or {}))
    )
    primary_key = result.inserted_primary_key
    if primary_key is None:
        msg = f'Expected the id of the new {table.__name__} row, got none.'
        raise RuntimeError(msg)
    return int(primary_key[0])
