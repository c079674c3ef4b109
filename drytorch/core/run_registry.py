"""The run registry: what runs an experiment has, and their true status.

(This module was ``drytorch.core.registry``, a path that still works and
gives the same objects. Registering models and actors with the active run
is another thing: :mod:`drytorch.core.registering`.)

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
marker at the next access and recorded as ``interrupted``; where it cannot
be recorded (a read-only folder, a full disk) reads report it
``interrupted`` all the same. A file of the registry that cannot be read
(not UTF-8, not JSON, truncated, a folder, an empty ``last_run``, a record
of another run) raises :class:`RegistryCorruptedError` naming the file; it
is never treated as missing, and it never stops a new run from being
created. A file whose name is not one of ours (in ``runs/`` or
``running/``) is ignored, with a ``RegistryFileIgnoredWarning``.

Reads take no lock and write nothing they need: the registry can be listed
and loaded on a read-only folder or a full disk. A running run reserves
the space of its final record, so that a run that ends on a full disk is
still recorded ``completed`` (or ``failed``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import pathlib
import re
import socket
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import filelock

from drytorch.core import exceptions, naming, processes
from drytorch.core._run_record import (
    ENDED,
    STATUSES,
    RunMetadata,
    RunStatus,
    corrupted_by,
    decoded,
    parse_legacy,
)
from drytorch.utils import files

__all__ = ['TS_FMT', 'RunMetadata', 'RunRegistry', 'RunStatus']

TS_FMT = '%Y-%m-%d@%Hh%Mm%Ss'
# what the registry writes in runs/ beside the records: temporary files of
# atomic writes and the reserves of running runs
_TEMPORARY = re.compile(r'\..+\.([0-9a-f]{32}\.tmp|json\.reserved)')
# room for the final record of a running run (a record is ~400 bytes)
_RESERVE_BYTES = 4096


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
        self._legacy = self.path / 'runs.json'
        self._thread_lock = threading.RLock()
        self._file_lock: filelock.BaseFileLock | None = None
        self._migrated = False
        self._warned: set[str] = set()

    def __repr__(self) -> str:
        return f'{type(self).__name__}({str(self.path)!r})'

    # ------------------------------------------------------------ locking

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lock of the writers (and import a legacy list once)."""
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

    def _refresh(self) -> None:
        """Before a read: record dead runs and import a legacy list.

        Best effort: what cannot be written (read-only folder, full disk)
        is reported in memory by the reads instead.
        """
        pending_import = (
            not self._migrated
            and self._legacy.is_file()
            and not self._runs.exists()
        )
        if not pending_import and not self._dead_marked():
            return
        try:
            with self._locked():
                self._reap_dead()
        except (OSError, filelock.Timeout):
            pass

    # ----------------------------------------------------- legacy format

    def _legacy_records(self) -> dict[str, RunMetadata]:
        """The runs of a rc5 ``runs.json`` (first entry of an id wins)."""
        return parse_legacy(self._legacy)

    def _import_legacy(self) -> None:
        if self._runs.exists() or not self._legacy.is_file():
            return
        records = self._legacy_records()
        for record in records.values():
            self._write(record)
        if records:
            files.atomic_write_text(self._last, list(records)[-1] + '\n')

    def _unimported(self) -> dict[str, RunMetadata] | None:
        """The legacy runs, if they could not be imported (read-only)."""
        if self._runs.exists() or not self._legacy.is_file():
            return None
        return self._legacy_records()

    # ---------------------------------------------------- files and names

    def _record_path(self, run_id: str) -> pathlib.Path:
        return self._runs / f'{naming.validate_name(run_id, "run id")}.json'

    def _reserve_path(self, run_id: str) -> pathlib.Path:
        return self._runs / f'.{run_id}.json.reserved'

    def _read(self, run_id: str) -> RunMetadata | None:
        path = self._record_path(run_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError as error:
            raise corrupted_by(path, error) from error
        record = RunMetadata.from_json(decoded(data, path), path)
        if record.id != run_id:
            reason = f'it records run {record.id!r}, not {run_id!r}'
            raise exceptions.RegistryCorruptedError(path, reason)
        return record

    def _write(self, record: RunMetadata) -> None:
        files.atomic_write_text(self._record_path(record.id), record.to_json())

    def _write_last(self, run_id: str) -> None:
        if os.path.lexists(self._last) and not self._last.is_file():
            # never a reason to refuse a run: resuming the last one will
            # raise RegistryCorruptedError naming it instead
            self._ignore(self._last, 'it is not a file; not updated')
            return
        files.atomic_write_text(self._last, run_id + '\n')

    def _ignore(self, path: pathlib.Path, reason: str) -> None:
        key = f'{path}:{reason}'
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(
                exceptions.RegistryFileIgnoredWarning(path, reason),
                stacklevel=4,
            )

    def _record_ids(self) -> list[str]:
        """The run ids of the files in ``runs/`` (others warned about)."""
        try:
            names = sorted(os.listdir(self._runs))
        except FileNotFoundError:
            return []
        ids = []
        for name in names:
            if _TEMPORARY.fullmatch(name):
                continue  # a write in progress, or a reserve
            run_id = name.removesuffix('.json')
            if run_id == name or not _valid_id(run_id):
                self._ignore(self._runs / name, 'not a run record')
                continue
            ids.append(run_id)
        return ids

    def _marker_ids(self) -> list[str]:
        """The run ids of the markers in ``running/`` (others warned about).

        A marker is an empty file named by a run id: anything else is not
        the registry's, and is never removed.
        """
        try:
            entries = list(os.scandir(self._running))
        except (FileNotFoundError, NotADirectoryError):
            return []
        ids = []
        for entry in entries:
            try:
                empty_file = (
                    entry.is_file(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_size == 0
                )
            except FileNotFoundError:
                continue  # removed meanwhile
            if not empty_file or not _valid_id(entry.name):
                path = self._running / entry.name
                self._ignore(path, 'not a run marker')
                continue
            ids.append(entry.name)
        return ids

    # ---------------------------------------------------------- dead runs

    def _is_dead(self, record: RunMetadata) -> bool:
        """Whether a ``running`` record was left by a dead process."""
        return (
            record.status == 'running'
            and record.pid is not None
            and record.host == socket.gethostname()
            and not processes.is_alive(record.pid, record.pid_start)
        )

    def _effective(self, record: RunMetadata) -> RunMetadata:
        """The record with its true status, recorded or not."""
        if self._is_dead(record):
            return dataclasses.replace(record, status='interrupted')
        return record

    def _dead_marked(self) -> bool:
        for run_id in self._marker_ids():
            try:
                record = self._read(run_id)
            except exceptions.RegistryCorruptedError:
                continue
            if record is None or record.status != 'running':
                return True  # a stale marker to remove
            if self._is_dead(record):
                return True
        return False

    def _reap_dead(self) -> None:
        """Record as interrupted the runs of dead processes (under lock).

        A record that cannot be written stays as it is; reads report it
        interrupted.
        """
        for run_id in self._marker_ids():
            marker = self._running / run_id
            try:
                record = self._read(run_id)
            except exceptions.RegistryCorruptedError:
                continue  # raised by the reads of that run
            with contextlib.suppress(OSError):
                if record is not None and record.status == 'running':
                    if not self._is_dead(record):
                        continue
                    record.status = 'interrupted'
                    record.ended_at = datetime.datetime.now().isoformat()
                    self._write(record)
                    with contextlib.suppress(FileNotFoundError):
                        self._reserve_path(run_id).unlink()
                marker.unlink()

    def _is_ours(self, record: RunMetadata) -> bool:
        return (
            record.pid == os.getpid()
            and record.host == socket.gethostname()
            and record.pid_start == processes.start_time(os.getpid())
        )

    # -------------------------------------------------------------- reads

    def get(self, run_id: str) -> RunMetadata | None:
        """The record of a run, or None if it is not recorded.

        Raises:
            RegistryCorruptedError: if its record cannot be read.
        """
        self._refresh()
        record = self._read(run_id)
        if record is None:
            record = (self._unimported() or {}).get(run_id)
        return None if record is None else self._effective(record)

    def last(self) -> RunMetadata | None:
        """The record of the run last created, started or resumed, if any.

        Raises:
            RegistryCorruptedError: if ``last_run`` or the record it names
                cannot be read.
        """
        self._refresh()
        path = self._last
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            legacy = self._unimported()
            if legacy:
                return list(legacy.values())[-1]
            return None
        except IsADirectoryError as error:
            raise corrupted_by(path, error) from error
        run_id = decoded(data, path).strip()
        if not run_id:
            raise exceptions.RegistryCorruptedError(path, 'it is empty')
        try:
            naming.validate_name(run_id, 'run id')
        except exceptions.InvalidNameError as error:
            reason = f'it holds {run_id!r}, not a run id'
            raise exceptions.RegistryCorruptedError(path, reason) from error
        record = self._read(run_id)
        if record is None:
            reason = f'it names run {run_id!r}, which is not recorded'
            raise exceptions.RegistryCorruptedError(path, reason)
        return self._effective(record)

    def load_all(self) -> list[RunMetadata]:
        """Every recorded run, oldest first.

        Raises:
            RegistryCorruptedError: if a record cannot be read.
        """
        self._refresh()
        legacy = self._unimported()
        if legacy is not None:
            records = list(legacy.values())
        else:
            records = []
            for run_id in self._record_ids():
                record = self._read(run_id)
                if record is not None:  # else removed meanwhile
                    records.append(self._effective(record))
        records.sort(key=lambda r: (r.created_at, r.id))
        return records

    # ------------------------------------------------------------- writes

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
            RegistryCorruptedError: if ``run_id`` names an unreadable file.
        """
        now = datetime.datetime.now()
        with self._locked():
            self._reap_dead()
            if run_id is None:
                run_id = self._free_id(now.strftime(TS_FMT))
            elif os.path.lexists(self._record_path(run_id)):
                self._read(run_id)  # raises if it cannot be read
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
            self._write_last(run_id)
        return record

    def _free_id(self, base: str) -> str:
        candidate, suffix = base, 1
        while os.path.lexists(self._runs / f'{candidate}.json'):
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
            record = self._effective(record)
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
            # the space of the final record, for a disk full at the end
            files.reserve_space(self._reserve_path(run_id), _RESERVE_BYTES)
            self._running.mkdir(parents=True, exist_ok=True)
            (self._running / run_id).touch()
            self._write(record)
            self._write_last(run_id)
        return record

    def update_run_status(self, run_id: str, status: RunStatus) -> None:
        """Record a new status for a run.

        On a full disk, the space reserved when the run started is used.

        Raises:
            RunNotRecordedError: if the run is not recorded.
            ValueError: if the status is unknown.
            OSError: naming the file, if the record cannot be written.
        """
        if status not in STATUSES:
            msg = f'Expected a status in {sorted(STATUSES)}, got {status!r}.'
            raise ValueError(msg)
        with self._locked():
            record = self._read(run_id)
            if record is None:
                raise exceptions.RunNotRecordedError(run_id)
            record.status = status
            if status in ENDED:
                record.ended_at = datetime.datetime.now().isoformat()
            path = self._record_path(run_id)
            reserve = self._reserve_path(run_id)
            data = record.to_json().encode('utf-8')
            ended = status in ENDED
            if not (ended and files.replace_from_reserve(reserve, path, data)):
                files.atomic_write_bytes(path, data)
                if ended:
                    with contextlib.suppress(OSError):
                        reserve.unlink()
            if status != 'running':
                with contextlib.suppress(FileNotFoundError):
                    (self._running / run_id).unlink()

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every record as a plain dict (for tables and tools)."""
        return [dataclasses.asdict(record) for record in self.load_all()]


def _valid_id(name: str) -> bool:
    try:
        naming.validate_name(name, 'run id')
    except exceptions.InvalidNameError:
        return False
    return True
