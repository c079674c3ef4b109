r"""The metric history of a run: its file format and the reader.

Every recorded run keeps its metrics in its own folder next to the run
registry (see :mod:`drytorch.core.run_registry`)::

    <par_dir>/.drytorch/<experiment>/run_files/<run id>/history.jsonl

The file holds one JSON object per line, each ending with ``\n``. The
first line names the format; then come, in the order they happened:

- ``{"kind": "start", "time", "resumed", "config"}``: the run started or
  resumed, with its configuration (JSON-friendly values, repr otherwise);
- ``{"kind": "metrics", "time", "model", "source", "role", "epoch",
  "metrics"}``: the metrics a source computed at an epoch; ``role`` is
  ``train``, ``validation`` or ``test``;
- ``{"kind": "interrupted", "time", "model", "source", "epoch"}``: training
  was interrupted with the model at ``epoch``;
- ``{"kind": "stop", "time", "status"}``: the run stopped.

The writer (:class:`drytorch.trackers.history.HistoryWriter`, a default
tracker) only appends whole lines, so a killed process can at worst leave
an incomplete last line, which :func:`load_history` ignores. Lines of a
kind it does not know are skipped, so newer files stay readable.

When training is resumed from an earlier checkpoint, epochs that were
already recorded are recorded again; the reader keeps the later values, the
way a fresh training would have produced them: reading epochs ``1, 2, 3, 4,
3, 4, 5`` of a source gives ``1, 2, 3, 4, 5`` with the last values for 3
and 4.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any

from drytorch.core import exceptions, naming

__all__ = [
    'FORMAT',
    'Interruption',
    'RunHistory',
    'Series',
    'config_value',
    'history_path',
    'load_history',
    'registry_dir',
    'resolve_epochs',
]

FORMAT = 'drytorch-history'
VERSION = 1
FILE_NAME = 'history.jsonl'
RUN_FILES = 'run_files'
REGISTRY_FOLDER = '.drytorch'  # Experiment.folder_name

_PathLike = str | os.PathLike[str]


def registry_dir(par_dir: _PathLike, exp_name: str) -> pathlib.Path:
    """The registry folder of an experiment: ``<par_dir>/.drytorch/<exp>``.

    Raises:
        InvalidNameError: if the name cannot be a folder name.
    """
    name = naming.validate_name(exp_name, 'experiment name')
    return pathlib.Path(par_dir) / REGISTRY_FOLDER / name


def history_path(exp_dir: _PathLike, run_id: str) -> pathlib.Path:
    """The history file of a run, given its experiment's registry folder.

    Raises:
        InvalidNameError: if the id cannot be a folder name.
    """
    run_id = naming.validate_name(run_id, 'run id')
    return pathlib.Path(exp_dir) / RUN_FILES / run_id / FILE_NAME


def header_line(exp_name: str, run_id: str) -> bytes:
    """The first line of a new history file."""
    header = {
        'format': FORMAT,
        'version': VERSION,
        'experiment': exp_name,
        'run_id': run_id,
    }
    return encode_line(header)


def encode_line(record: Mapping[str, Any]) -> bytes:
    """One record as a complete line (repr for what JSON cannot hold)."""
    return (json.dumps(record, default=repr) + '\n').encode('utf-8')


def check_header(path: pathlib.Path, line: bytes) -> None:
    """Raise HistoryCorruptedError unless the line is a history header."""
    try:
        header = json.loads(line)
    except ValueError as error:
        raise exceptions.HistoryCorruptedError(
            path, f'line 1 is not JSON: {error}'
        ) from error
    if not isinstance(header, dict) or header.get('format') != FORMAT:
        raise exceptions.HistoryCorruptedError(
            path, f'expected a {FORMAT!r} header on line 1, got {line[:80]!r}'
        )
    version = header.get('version')
    if not isinstance(version, int) or version > VERSION:
        raise exceptions.HistoryCorruptedError(
            path, f'expected format version <= {VERSION}, got {version!r}'
        )


def config_value(config: Any) -> Any:
    """The configuration as JSON-friendly values (repr for the rest)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {
            field.name: config_value(getattr(config, field.name, None))
            if field.repr
            else '(hidden: repr=False)'
            for field in dataclasses.fields(config)
        }
    if isinstance(config, dict):
        return {str(key): config_value(value) for key, value in config.items()}
    if isinstance(config, list | tuple):
        return [config_value(value) for value in config]
    if config is None or isinstance(config, bool | int | float | str):
        return config
    return repr(config)


def resolve_epochs(
    rows: Iterable[tuple[int, Mapping[str, float]]],
) -> tuple[list[int], dict[str, list[float]]]:
    """Rows in the order they were written, as increasing epochs.

    A row whose epoch is not after the previous kept one replaces the
    history from that epoch on. Metrics missing at an epoch get NaN.
    """
    kept: list[tuple[int, Mapping[str, float]]] = []
    for epoch, values in rows:
        while kept and kept[-1][0] >= epoch:
            kept.pop()
        kept.append((epoch, values))
    names: dict[str, None] = {}
    for _, values in kept:
        names.update(dict.fromkeys(values))
    return [epoch for epoch, _ in kept], {
        name: [float(values.get(name, math.nan)) for _, values in kept]
        for name in names
    }


@dataclasses.dataclass(frozen=True)
class Series:
    """The metrics of one model and source, epoch by epoch.

    Attributes:
        model: the model's name.
        source: the source's (actor's) name.
        role: 'train', 'validation' or 'test'.
        epochs: the epochs, increasing.
        metrics: for each metric, its value at each of the epochs.
    """

    model: str
    source: str
    role: str
    epochs: list[int]
    metrics: dict[str, list[float]]


@dataclasses.dataclass(frozen=True)
class Interruption:
    """Training was interrupted (KeyboardInterrupt).

    Attributes:
        model: the model's name.
        source: the trainer's name.
        epoch: the last completed epoch.
        time: when, as seconds since the epoch.
    """

    model: str
    source: str
    epoch: int
    time: float


@dataclasses.dataclass(frozen=True)
class RunHistory:
    """What the history file of a run holds.

    Attributes:
        path: the file.
        experiment: the experiment's name.
        run_id: the run's id.
        series: the metric series by (model, source), in order of first
            appearance.
        config: the configuration recorded at the last start, if any.
        starts: the times the run started or resumed (seconds).
        stops: (time, status) for each recorded stop.
        interruptions: the training interruptions, oldest first.
        duration: the time spent running, in seconds, summed over starts
            (a start without a stop ends at its last recorded line).
    """

    path: pathlib.Path
    experiment: str
    run_id: str
    series: dict[tuple[str, str], Series]
    config: Any = None
    starts: list[float] = dataclasses.field(default_factory=list)
    stops: list[tuple[float, str]] = dataclasses.field(default_factory=list)
    interruptions: list[Interruption] = dataclasses.field(default_factory=list)
    duration: float = 0.0

    @property
    def epochs(self) -> int:
        """The last epoch recorded by a training source (0 if none)."""
        trained = [
            s.epochs[-1] for s in self.series.values() if s.role == 'train'
        ]
        if not trained:
            return 0
        return max(trained)

    @property
    def last_status(self) -> str | None:
        """The status of the last recorded stop, if any."""
        return self.stops[-1][1] if self.stops else None

    def final_metrics(self) -> dict[tuple[str, str], dict[str, float]]:
        """The last value of every metric, by (model, source)."""
        return {
            key: {name: values[-1] for name, values in s.metrics.items()}
            for key, s in self.series.items()
            if s.epochs
        }


def _read_lines(path: pathlib.Path) -> list[bytes]:
    data = path.read_bytes()
    lines = data.split(b'\n')
    # the part after the last line break is a torn write (or empty)
    return lines[:-1]


def _parse(path: pathlib.Path, number: int, line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as error:
        raise exceptions.HistoryCorruptedError(
            path, f'line {number} is not JSON: {error}'
        ) from error
    if not isinstance(record, dict):
        raise exceptions.HistoryCorruptedError(
            path, f'line {number}: expected a JSON object'
        )
    return record


def _number(path: pathlib.Path, n: int, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise exceptions.HistoryCorruptedError(
            path, f'line {n}: expected a number for {what}, got {value!r}'
        )
    return float(value)


def _text(path: pathlib.Path, n: int, value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise exceptions.HistoryCorruptedError(
            path, f'line {n}: expected a string for {what}, got {value!r}'
        )
    return value


class _Builder:
    """Accumulate the records of one file."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.rows: dict[tuple[str, str], list[tuple[int, dict[str, float]]]]
        self.rows = {}
        self.roles: dict[tuple[str, str], str] = {}
        self.config: Any = None
        self.starts: list[float] = []
        self.stops: list[tuple[float, str]] = []
        self.interruptions: list[Interruption] = []
        self.duration = 0.0
        self._open_since: float | None = None
        self._last_time: float | None = None

    def add(self, n: int, record: dict[str, Any]) -> None:
        path = self.path
        kind = record.get('kind')
        moment = _number(path, n, record.get('time'), 'time')
        if kind == 'metrics':
            model = _text(path, n, record.get('model'), 'model')
            source = _text(path, n, record.get('source'), 'source')
            epoch = record.get('epoch')
            if isinstance(epoch, bool) or not isinstance(epoch, int):
                raise exceptions.HistoryCorruptedError(
                    path, f'line {n}: expected an int epoch, got {epoch!r}'
                )
            values = record.get('metrics')
            if not isinstance(values, dict):
                raise exceptions.HistoryCorruptedError(
                    path, f'line {n}: expected an object of metrics'
                )
            metrics = {
                str(name): _number(path, n, value, f'metric {name}')
                for name, value in values.items()
            }
            key = (model, source)
            self.rows.setdefault(key, []).append((epoch, metrics))
            self.roles.setdefault(key, str(record.get('role', 'test')))
        elif kind == 'start':
            self._close(self._last_time)
            self.starts.append(moment)
            self._open_since = moment
            self.config = record.get('config')
        elif kind == 'stop':
            self.stops.append((moment, str(record.get('status'))))
            self._close(moment)
        elif kind == 'interrupted':
            self.interruptions.append(
                Interruption(
                    model=_text(path, n, record.get('model'), 'model'),
                    source=_text(path, n, record.get('source'), 'source'),
                    epoch=int(_number(path, n, record.get('epoch'), 'epoch')),
                    time=moment,
                )
            )
        self._last_time = moment

    def _close(self, end: float | None) -> None:
        if self._open_since is not None and end is not None:
            self.duration += max(0.0, end - self._open_since)
        self._open_since = None

    def build(self, experiment: str, run_id: str) -> RunHistory:
        self._close(self._last_time)
        series = {}
        for key, rows in self.rows.items():
            epochs, metrics = resolve_epochs(rows)
            series[key] = Series(
                key[0], key[1], self.roles[key], epochs, metrics
            )
        return RunHistory(
            path=self.path,
            experiment=experiment,
            run_id=run_id,
            series=series,
            config=self.config,
            starts=self.starts,
            stops=self.stops,
            interruptions=self.interruptions,
            duration=self.duration,
        )


def read_history_file(path: _PathLike) -> RunHistory:
    """Read a history file.

    Raises:
        FileNotFoundError: if the file does not exist.
        HistoryCorruptedError: if it is not a history file, or a complete
            line cannot be read (an incomplete last line is ignored).
    """
    path = pathlib.Path(path)
    lines = _read_lines(path)
    if not lines:
        raise exceptions.HistoryCorruptedError(path, 'it has no header line')
    check_header(path, lines[0])
    header = json.loads(lines[0])
    builder = _Builder(path)
    for number, line in enumerate(lines[1:], start=2):
        if line.strip():
            builder.add(number, _parse(path, number, line))
    return builder.build(
        str(header.get('experiment', '')), str(header.get('run_id', ''))
    )


def load_history(exp_dir: _PathLike | Any, run_id: str) -> RunHistory | None:
    """The metric history of a run, from any process.

    Args:
        exp_dir: the experiment's registry folder
            (``<par_dir>/.drytorch/<experiment>``), or an Experiment.
        run_id: the run's id.

    Returns:
        The history, or None if the run has none (not recorded, or ran
        without the history writer).

    Raises:
        HistoryCorruptedError: if the file is not a history file, or a
            complete line of it cannot be read.
        InvalidNameError: if the run id cannot be a folder name.
    """
    registry = getattr(exp_dir, 'registry', None)
    if registry is not None:  # an Experiment
        exp_dir = registry.path
    path = history_path(exp_dir, run_id)
    try:
        return read_history_file(path)
    except FileNotFoundError:
        return None
