"""The tables of the SQL tracker, and their creation.

Creating the tables is idempotent and safe when several processes start
runs on a new database at once: SQLite serializes it with an immediate
transaction, PostgreSQL with a transaction-level advisory lock, and any
other database retries when a concurrent creator got there first.
"""

from __future__ import annotations

import datetime
import time
import zlib

import sqlalchemy
from sqlalchemy import orm

__all__ = [
    'Base',
    'Experiment',
    'Log',
    'Run',
    'Source',
    'Tags',
    'create_schema',
]

_NAME_LENGTH = 255
# the PostgreSQL advisory lock that serializes the creation of the tables
_SCHEMA_LOCK_KEY = zlib.crc32(b'drytorch.trackers.sqlalchemy schema')
_SCHEMA_ATTEMPTS = 5


class Base(orm.DeclarativeBase):
    """Declarative base of the tracker's tables: each row has an integer key.

    Rows refer to each other by this key (see :func:`_row_of`).
    """

    row_id: orm.Mapped[int] = orm.mapped_column(
        primary_key=True, sort_order=-1
    )


def _name() -> orm.MappedColumn[str]:
    """A column for a name, bounded so that indexes can include it."""
    return orm.mapped_column(sqlalchemy.String(_NAME_LENGTH))


def _row_of(table: str) -> orm.MappedColumn[int]:
    """A column that refers to a row of another table."""
    return orm.mapped_column(sqlalchemy.ForeignKey(f'{table}.row_id'))


class Experiment(Base):
    """An experiment: a name in an output folder."""

    __tablename__ = 'experiments'
    __table_args__ = (
        sqlalchemy.UniqueConstraint(
            'experiment_name', 'par_dir', name='uq_experiments_name_par_dir'
        ),
    )

    experiment_name: orm.Mapped[str] = _name()
    par_dir: orm.Mapped[str] = orm.mapped_column(sqlalchemy.Text)


class Tags(Base):
    """A tag of an experiment."""

    __tablename__ = 'tags'
    __table_args__ = (
        sqlalchemy.UniqueConstraint(
            'experiment_id', 'text', name='uq_tags_experiment_text'
        ),
    )

    experiment_id: orm.Mapped[int] = _row_of('experiments')
    text: orm.Mapped[str] = orm.mapped_column(sqlalchemy.Text)


class Run(Base):
    """A run of an experiment (a resumed run keeps its row)."""

    __tablename__ = 'runs'
    __table_args__ = (
        sqlalchemy.UniqueConstraint(
            'experiment_id', 'run_id', name='uq_runs_experiment_run'
        ),
    )

    run_id: orm.Mapped[str] = _name()
    run_ts: orm.Mapped[datetime.datetime]
    experiment_id: orm.Mapped[int] = _row_of('experiments')


class Source(Base):
    """An actor of a run computing metrics of a model.

    The timestamps are NULL for a source that logged metrics without being
    registered first (e.g. when the tracker joined the run late).
    """

    __tablename__ = 'sources'
    __table_args__ = (
        sqlalchemy.Index('ix_sources_run_model', 'run_table_id', 'model_name'),
    )

    model_name: orm.Mapped[str] = _name()
    model_ts: orm.Mapped[datetime.datetime | None]
    source_name: orm.Mapped[str] = _name()
    source_ts: orm.Mapped[datetime.datetime | None]
    run_table_id: orm.Mapped[int] = _row_of('runs')


class Log(Base):
    """The value of a metric of a source at an epoch.

    NaN may be stored as NULL (SQLite does); it is read back as NaN.
    """

    __tablename__ = 'logs'
    __table_args__ = (
        sqlalchemy.Index('ix_logs_source_epoch', 'source_id', 'epoch'),
    )

    source_id: orm.Mapped[int] = _row_of('sources')
    epoch: orm.Mapped[int]
    metric_name: orm.Mapped[str] = orm.mapped_column(sqlalchemy.Text)
    value: orm.Mapped[float | None] = orm.mapped_column(
        sqlalchemy.Double, nullable=True
    )
    created_at: orm.Mapped[datetime.datetime]


def create_schema(engine: sqlalchemy.Engine) -> None:
    """Create the missing tables and indexes, once, whoever else does too.

    Serialized where the database can (SQLite: an immediate transaction
    takes the write lock first; PostgreSQL: an advisory lock held until the
    transaction ends); elsewhere, retried when a concurrent creator made a
    table between the check and the creation.
    """
    for attempt in range(_SCHEMA_ATTEMPTS):
        try:
            with engine.begin() as connection:
                dialect = connection.dialect.name
                if dialect == 'sqlite':
                    connection.exec_driver_sql('BEGIN IMMEDIATE')
                elif dialect == 'postgresql':
                    connection.execute(
                        sqlalchemy.text('SELECT pg_advisory_xact_lock(:key)'),
                        {'key': _SCHEMA_LOCK_KEY},
                    )
                Base.metadata.create_all(connection)
            return
        except sqlalchemy.exc.DBAPIError as error:
            if attempt + 1 == _SCHEMA_ATTEMPTS or not _created_meanwhile(
                error
            ):
                raise
            time.sleep(0.05 * (attempt + 1))


def _created_meanwhile(error: sqlalchemy.exc.DBAPIError) -> bool:
    """Whether an error says another process created the object first."""
    if isinstance(error, sqlalchemy.exc.IntegrityError):
        return True  # PostgreSQL's catalog: duplicate type name
    text = str(error.orig).lower()
    return 'already exists' in text or 'duplicate' in text
