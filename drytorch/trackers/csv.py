"""Metrics as CSV files, one per model and source.

:class:`CSVDumper` writes ``<par_dir>/csv_metrics/<exp>/<run part>/<model>/
<source>.csv`` with the header ``"Model","Source","Epoch",<metric names>``
and one row per :class:`~drytorch.core.events.MetricEvent`.

Files only grow by whole lines. A row is written with one ``write`` of a
complete line and reaches the operating system before the tracker returns,
so a crash can at worst leave an incomplete last line. That line is ignored
by readers and cut off before the file is appended to again. A new file (or
the header of a file started again) is written atomically.

A resumed run appends to the files of the run. When training resumes from
an earlier checkpoint, the file then holds rows for epochs that were
already written; readers resolve them the way a fresh training would have
produced them: a row for an epoch that is not after the previous row's
epoch replaces the history from that epoch on. Reading ``1, 2, 3, 4, 3, 4,
5`` gives epochs ``1, 2, 3, 4, 5`` with the values of the last rows for 3
and 4.
"""

from __future__ import annotations

import csv
import io
import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any

from drytorch.core import events, exceptions, history
from drytorch.core.track import on
from drytorch.trackers._dumper import Dumper
from drytorch.trackers._metric_history import (
    HistoryMetrics,
    MetricLoader,
    SourcedMetrics,
)
from drytorch.utils.files import atomic_write_bytes, safe_join

__all__ = ['CSVDumper', 'DryTorchDialect', 'resolve_history']

_FIXED_COLUMNS = ('Model', 'Source', 'Epoch')
_ENCODING = 'utf-8'
_SUFFIX = '.csv'
_TAIL_CHUNK = 1 << 16


class DryTorchDialect(csv.Dialect):
    """The CSV dialect of the metric files.

    Comma separated, ``"`` quotes (doubled inside quoted fields), CRLF
    line ends; strings are quoted and numbers are not.
    """

    delimiter = ','
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = '\r\n'
    quoting = csv.QUOTE_NONNUMERIC
    strict = False


def resolve_history(
    rows: Iterable[tuple[int, Mapping[str, float]]],
    max_epoch: int = -1,
) -> HistoryMetrics:
    """Turn rows in the order they were written into a metric history.

    A row whose epoch is not after the previous kept epoch replaces the
    history from that epoch on (training resumed from an earlier
    checkpoint, or the same epoch evaluated again). Metrics missing at an
    epoch get NaN.

    Args:
        rows: (epoch, {metric: value}) in the order they were written.
        max_epoch: the last epoch to keep; -1 for all of them.

    Returns:
        The epochs, increasing, and the values of each metric.
    """
    if max_epoch != -1:
        rows = [
            (epoch, values) for epoch, values in rows if epoch <= max_epoch
        ]
    # the same resolution as the run's own history (drytorch.core.history)
    return history.resolve_epochs(rows)


class _OpenFile:
    """A metric file of the run, open for appending."""

    def __init__(self, path: pathlib.Path, columns: list[str]) -> None:
        self.path = path
        self.columns = columns
        self.metric_names = columns[len(_FIXED_COLUMNS) :]
        self.name_set = frozenset(self.metric_names)
        # Unbuffered: every write goes straight to the operating system.
        self.stream = open(path, 'ab', buffering=0)  # noqa: SIM115

    def append(self, line: bytes) -> None:
        view = memoryview(line)
        write = self.stream.write
        while view:
            written = write(view)
            view = view[written or 0 :]

    def close(self) -> None:
        self.stream.close()


class CSVDumper(Dumper, MetricLoader):
    """Write the metrics of each model and source to a CSV file.

    See the module documentation for the layout, the crash safety and how
    rows of a resumed run are read back.

    Attributes:
        dialect: the CSV dialect of the files.
    """

    folder_name = 'csv_metrics'

    def __init__(
        self,
        par_dir: str | pathlib.Path | None = None,
        dialect: csv.Dialect | type[csv.Dialect] | None = None,
    ) -> None:
        """Create the dumper.

        Args:
            par_dir: the root folder; default: the experiment's par_dir.
            dialect: the CSV dialect; default: :class:`DryTorchDialect`.
        """
        super().__init__(par_dir)
        self.dialect = DryTorchDialect() if dialect is None else dialect
        self._files: dict[tuple[str, str], _OpenFile] = {}

    @on(events.StartRunEvent)
    def _csv_on_start(self, event: events.StartRunEvent) -> None:
        self._close_files()

    @on(events.MetricEvent)
    def _csv_on_metric(self, event: events.MetricEvent) -> None:
        key = (event.model_name, event.source_name)
        metrics = event.metrics
        open_file = self._files.get(key)
        if open_file is None:
            open_file = self._open(key, list(metrics))
            self._files[key] = open_file
        if metrics.keys() != open_file.name_set:
            self._raise_mismatch(
                open_file.path,
                open_file.columns,
                [*_FIXED_COLUMNS, *metrics],
            )
        row: list[Any] = [event.model_name, event.source_name, event.epoch]
        row.extend(float(metrics[name]) for name in open_file.metric_names)
        open_file.append(self._encode_row(row))

    def clean_up(self) -> None:
        """Close the files and forget the run."""
        self._close_files()
        super().clean_up()

    def file_path(self, model_name: str, source: str) -> pathlib.Path:
        """The file of a model and source in the current run.

        Raises:
            AccessOutsideScopeError: outside a run.
            InvalidNameError: if a name would lead outside ``par_dir``.
        """
        return safe_join(self.run_dir, model_name, f'{source}{_SUFFIX}')

    def read_csv(
        self, model_name: str, source: str, max_epoch: int = -1
    ) -> HistoryMetrics:
        """Read the history of a source of the current run.

        An incomplete last line (left by a crash) is ignored; rows are
        resolved as explained in :func:`resolve_history`.

        Args:
            model_name: the model's name.
            source: the source's (actor's) name.
            max_epoch: the last epoch to read; -1 for all of them.

        Returns:
            The epochs and the values of each metric.

        Raises:
            AccessOutsideScopeError: outside a run.
            FileNotFoundError: if the source has no file.
        """
        path = self.file_path(model_name, source)
        data = path.read_bytes()
        data = data[: self._complete_length(data)]
        reader = csv.reader(
            io.StringIO(data.decode(_ENCODING), newline=''),
            dialect=self.dialect,
            quoting=csv.QUOTE_MINIMAL,  # convert the numbers ourselves
        )
        header = next(reader, None)
        if header is None:
            return [], {}
        names = header[len(_FIXED_COLUMNS) :]
        epoch_index = len(_FIXED_COLUMNS) - 1
        rows = (
            (
                int(float(row[epoch_index])),
                dict(
                    zip(
                        names,
                        map(float, row[epoch_index + 1 :]),
                        strict=True,
                    )
                ),
            )
            for row in reader
            if row
        )
        epochs, logs = resolve_history(rows, max_epoch)
        return epochs, {name: logs.get(name, []) for name in names}

    def _load_metrics(self, model_name: str, max_epoch: int) -> SourcedMetrics:
        if self.resumed:
            folder = safe_join(self.run_dir, model_name)
            sources = sorted(path.stem for path in folder.glob(f'*{_SUFFIX}'))
        else:
            sources = [
                source for model, source in self._files if model == model_name
            ]
        return {
            source: self.read_csv(model_name, source, max_epoch)
            for source in sources
        }

    def _open(
        self, key: tuple[str, str], metric_names: list[str]
    ) -> _OpenFile:
        """Open the file of a source: new, or appended to when resuming."""
        path = self.file_path(*key)
        path.parent.mkdir(parents=True, exist_ok=True)
        columns = [*_FIXED_COLUMNS, *metric_names]
        if self.resumed and path.exists():
            header = self._prepare_for_append(path)
            if header is not None:
                # Same metrics in any order; a file that is not a metric
                # file is refused rather than overwritten.
                fixed = len(_FIXED_COLUMNS)
                if tuple(header[:fixed]) != _FIXED_COLUMNS or set(
                    header[fixed:]
                ) != set(metric_names):
                    self._raise_mismatch(path, header, columns)
                return _OpenFile(path, header)
        atomic_write_bytes(path, self._encode_row(columns))
        return _OpenFile(path, columns)

    def _prepare_for_append(self, path: pathlib.Path) -> list[str] | None:
        """Cut an incomplete last line; return the header (None if none)."""
        terminator = self._terminator()
        with open(path, 'r+b') as stream:
            size = stream.seek(0, os.SEEK_END)
            end = 0
            position = size
            while position > 0:
                start = max(0, position - _TAIL_CHUNK)
                stream.seek(start)
                # overlap so that a terminator across chunks is found
                stop = min(size, position + len(terminator) - 1)
                index = stream.read(stop - start).rfind(terminator)
                if index != -1:
                    end = start + index + len(terminator)
                    break
                position = start
            if end != size:
                stream.truncate(end)
            if end == 0:
                return None
            stream.seek(0)
            text = io.TextIOWrapper(stream, encoding=_ENCODING, newline='')
            try:
                header = next(csv.reader(text, dialect=self.dialect), None)
            finally:
                text.detach()
        return [str(name) for name in header or ()]

    def _complete_length(self, data: bytes) -> int:
        terminator = self._terminator()
        if data.endswith(terminator):
            return len(data)
        index = data.rfind(terminator)
        return 0 if index == -1 else index + len(terminator)

    def _terminator(self) -> bytes:
        return str(self.dialect.lineterminator).encode(_ENCODING)

    def _encode_row(self, row: list[Any]) -> bytes:
        buffer = io.StringIO(newline='')
        csv.writer(buffer, dialect=self.dialect).writerow(row)
        return buffer.getvalue().encode(_ENCODING)

    def _raise_mismatch(
        self, path: pathlib.Path, expected: list[str], received: list[str]
    ) -> None:
        raise exceptions.TrackerError(
            self,
            f'The columns of {path} do not match the metrics: expected '
            f'{expected}, received {received}.',
        )

    def _close_files(self) -> None:
        files, self._files = self._files, {}
        for open_file in files.values():
            open_file.close()
