"""The run registry: what runs an experiment has, and their true status.

One folder per experiment (``<par_dir>/.drytorch/<experiment>/``) holds::

    runs/<run id>.json   one record per run (id, status, timestamps, commit,
                         pid and host of the process running it)
    running/<run id>     an empty marker while a run is running
    last_run             the id of the run most recently created, started
                         or resumed (what ``create_run(resume=True)``
                         resumes)
    registry.lock        the file lock that serializes writers

A ``runs.json`` list left by drytorch 0.1.0rc5 in the same folder is imported
once (it is left as it was), so upgrading keeps the history of old runs.

Every write goes to a temporary file that is renamed over the target, under
the lock, so a crash never leaves a half-written record and two processes
never allocate the same run id. The cost of creating, starting and stopping
a run does not depend on how many runs are recorded: nothing reads the
whole history except :meth:`RunRegistry.load_all`.

A record left ``running`` by a process that died is found through its
marker at the next access and recorded as ``interrupted``. A record that
cannot be parsed raises :class:`RegistryCorruptedError` naming the file; it
is never treated as missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import pathlib
import socket
import threading
from collections.abc import Iterator
from typing import Any, Literal, get_args

import filelock

from drytorch.core import exceptions, naming, processes
from drytorch.utils import files

__all__ = ['RunMetadata', 'RunRegistry', 'RunStatus']

RunStatus = Literal['created', 'running', 'completed', 'failed', 'interrupted']
_STATUSES = frozenset(get_args(RunStatus))
_ENDED = frozenset({'completed', 'failed', 'interrupted'})
TS_FMT = '%Y-%m-%d@%Hh%Mm%Ss'


@dataclasses.dataclass
class RunMetadata:
    """One run as recorded in the registry.

    Attributes:
        id: the run id.
        status: created, running, completed, failed or interrupted.
        timestamp: creation time, formatted as ``%Y-%m-%d@%Hh%Mm%Ss``.
        commit: the git commit checked out at creation, if any.
        created_at: creation time, ISO 8601 with microseconds.
        started_at: when the run last started, ISO 8601.
        ended_at: when the run last ended, ISO 8601.
        pid: the process that runs (or last ran) it.
        host: the host of that process.
        pid_start: the start time of that process (guards against reuse).
        n_starts: how many times the run was started (resumes included).
    """

    id: str
    status: RunStatus
    timestamp: str
    commit: str | None = None
    created_at: str = ''
    started_at: str | None = None
    ended_at: str | None = None
    pid: int | None = None
    host: str | None = None
    pid_start: str | None = None
    n_starts: int = 0

    def to_json(self) -> str:
        """The record as JSON text."""
        return json.dumps(dataclasses.asdict(self), indent=2) + '\n'

    @classmethod
    def from_json(cls, text: str, path: pathlib.Path) -> RunMetadata:
        """Parse a record, raising RegistryCorruptedError when invalid."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise exceptions.RegistryCorruptedError(path, error) from error
        if not isinstance(data, dict):
            reason = f'expected a JSON object, got {type(data).__name__}'
            raise exceptions.RegistryCorruptedError(path, reason)
        known = {field.name for field in dataclasses.fields(cls)}
        missing = {'id', 'status', 'timestamp'} - data.keys()
        if missing:
            reason = f'missing keys {sorted(missing)}'
            raise exceptions.RegistryCorruptedError(path, reason)
        if data['status'] not in _STATUSES:
            reason = f'unknown status {data["status"]!r}'
            raise exceptions.RegistryCorruptedError(path, reason)
        return cls(**{k: v for k, v in data.items() if k in known})


class RunRegistry:
    """The recorded runs of one experiment, stored under ``path``.

    Safe to use from several threads and processes at once.
    """

    lock_timeout = 60.0

    def __init__(self, path: pathlib.Path) -> None:
        """Args:
        path: the experiment's registry folder.
        """  # noqa: D205
        self.path = pathlib.Path(path)
        self._runs = self.path / 'runs'
        self._running = self.path / 'running'
        self._last = self.path / 'last_run'
        self._thread_lock = threading.RLock()
        self._file_lock: filelock.BaseFileLock | None = None
        self._migrated = False

    def __repr__(self) -> str:
        return f'{type(self).__name__}({str(self.path)!r})'

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            if self._file_lock is None:
                self.path.mkdir(parents=True, exist_ok=True)
                self._file_lock = filelock.FileLock(
                    self.path / 'registry.lock', timeout=self.lock_timeout
                )
            with self._file_lock:
                if not self._migrated:
                    self._import_legacy()
                    self._migrated = True
                yield

    def _import_legacy(self) -> None:
        legacy = self.path / 'runs.json'
        if self._runs.exists() or not legacy.is_file():
            return
        try:
            entries = json.loads(legacy.read_text(encoding='utf-8'))
        except ValueError as error:
            raise exceptions.RegistryCorruptedError(legacy, error) from error
        if not isinstance(entries, list):
            reason = f'expected a JSON list, got {type(entries).__name__}'
            raise exceptions.RegistryCorruptedError(legacy, reason)
        records: dict[str, RunMetadata] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            text = json.dumps(entry)
            record = RunMetadata.from_json(text, legacy)
            if record.status == 'running':
                # the old format kept no pid: nothing runs it any more
                record.status = 'interrupted'
            records.setdefault(record.id, record)  # first entry wins
        for record in records.values():
            self._write(record)
        if records:
            last = list(records)[-1]
            files.atomic_write_text(self._last, last + '\n')

    def _record_path(self, run_id: str) -> pathlib.Path:
        return self._runs / f'{naming.validate_name(run_id, "run id")}.json'

    def _read(self, run_id: str) -> RunMetadata | None:
        path = self._record_path(run_id)
        try:
            text = path.read_text(encoding='utf-8')
        except FileNotFoundError:
            return None
        return RunMetadata.from_json(text, path)

    def _write(self, record: RunMetadata) -> None:
        files.atomic_write_text(self._record_path(record.id), record.to_json())

    def get(self, run_id: str) -> RunMetadata | None:
        """The record of a run, or None if it is not recorded."""
        with self._locked():
            self._reap_dead()
            return self._read(run_id)

    def last(self) -> RunMetadata | None:
        """The record of the run last created, started or resumed, if any."""
        with self._locked():
            self._reap_dead()
            try:
                run_id = self._last.read_text(encoding='utf-8').strip()
            except FileNotFoundError:
                return None
            record = self._read(run_id)
            if record is None:
                reason = f'it names run {run_id!r}, which is not recorded'
                raise exceptions.RegistryCorruptedError(self._last, reason)
            return record

    def load_all(self) -> list[RunMetadata]:
        """Every recorded run, oldest first."""
        with self._locked():
            self._reap_dead()
            records = []
            if self._runs.is_dir():
                for path in self._runs.glob('*.json'):
                    text = path.read_text(encoding='utf-8')
                    records.append(RunMetadata.from_json(text, path))
        records.sort(key=lambda r: (r.created_at, r.id))
        return records

    def register_new_run(
        self, run_id: str | None, commit: str | None = None
    ) -> RunMetadata:
        """Record a new run and return its record.

        Args:
            run_id: the id to record; None allocates a unique id from the
                current time (with a suffix when the second is taken).
            commit: the git commit to record.

        Raises:
            RunAlreadyRecordedError: if ``run_id`` is already recorded.
        """
        now = datetime.datetime.now()
        with self._locked():
            self._reap_dead()
            if run_id is None:
                run_id = self._free_id(now.strftime(TS_FMT))
            elif self._record_path(run_id).exists():
                exp_name = self.path.name
                raise exceptions.RunAlreadyRecordedError(run_id, exp_name)
            record = RunMetadata(
                id=run_id,
                status='created',
                timestamp=now.strftime(TS_FMT),
                commit=commit,
                created_at=now.isoformat(),
            )
            self._write(record)
            files.atomic_write_text(self._last, run_id + '\n')
        return record

    def _free_id(self, base: str) -> str:
        candidate, suffix = base, 1
        while (self._runs / f'{candidate}.json').exists():
            suffix += 1
            candidate = f'{base}_{suffix}'
        return candidate

    def mark_running(self, run_id: str) -> RunMetadata:
        """Record that this process starts (or resumes) the run.

        Raises:
            RunNotRecordedError: if the run is not recorded.
            RunInUseError: if a live process is running it.
        """
        with self._locked():
            self._reap_dead()
            record = self._read(run_id)
            if record is None:
                raise exceptions.RunNotRecordedError(run_id)
            if record.status == 'running' and not self._is_ours(record):
                raise exceptions.RunInUseError(
                    run_id, self.path.name, record.pid
                )
            record.status = 'running'
            record.started_at = datetime.datetime.now().isoformat()
            record.ended_at = None
            record.pid = os.getpid()
            record.host = socket.gethostname()
            record.pid_start = processes.start_time(record.pid)
            record.n_starts += 1
            self._running.mkdir(parents=True, exist_ok=True)
            (self._running / run_id).touch()
            self._write(record)
            files.atomic_write_text(self._last, run_id + '\n')
        return record

    def update_run_status(self, run_id: str, status: RunStatus) -> None:
        """Record a new status for a run.

        Raises:
            RunNotRecordedError: if the run is not recorded.
            ValueError: if the status is unknown.
        """
        if status not in _STATUSES:
            msg = f'Expected a status in {sorted(_STATUSES)}, got {status!r}.'
            raise ValueError(msg)
        with self._locked():
            record = self._read(run_id)
            if record is None:
                raise exceptions.RunNotRecordedError(run_id)
            record.status = status
            if status in _ENDED:
                record.ended_at = datetime.datetime.now().isoformat()
            self._write(record)
            if status != 'running':
                with contextlib.suppress(FileNotFoundError):
                    (self._running / run_id).unlink()

    def _is_ours(self, record: RunMetadata) -> bool:
        return (
            record.pid == os.getpid()
            and record.host == socket.gethostname()
            and record.pid_start == processes.start_time(os.getpid())
        )

    def _reap_dead(self) -> None:
        """Mark runs left running by dead processes as interrupted."""
        try:
            markers = list(os.scandir(self._running))
        except FileNotFoundError:
            return
        host = socket.gethostname()
        for marker in markers:
            record = self._read(marker.name)
            if record is None or record.status != 'running':
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(marker.path)
                continue
            if record.host != host or record.pid is None:
                continue  # another machine: its liveness is unknown here
            if processes.is_alive(record.pid, record.pid_start):
                continue
            record.status = 'interrupted'
            record.ended_at = datetime.datetime.now().isoformat()
            self._write(record)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(marker.path)

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every record as a plain dict (for tables and tools)."""
        return [dataclasses.asdict(record) for record in self.load_all()]
