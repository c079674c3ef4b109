"""The default tracker that keeps the metric history of every recorded run.

:class:`HistoryWriter` appends to the run's history file (the format and
the reader are in :mod:`drytorch.core.history`). It writes once per
training epoch: the metric lines of the epoch (training, validation) are
joined and handed to the operating system with one ``write`` when the epoch
ends, so a killed process loses at most the epoch in progress. Metrics
computed outside a training epoch (a test) are written at once.

The file is synced to disk (``fsync``) when a training or the run ends, and
during a training at most once every ``sync_interval`` seconds: a write that
reached the operating system survives the process being killed; the sync
only guards against the machine itself going down, and costs milliseconds
on some disks, more than a tiny epoch.

A resumed run appends to its file. A torn last line, left by a crash, is
cut off before the first append. A file that is not a history file is never
overwritten: the tracker fails (and is detached with a warning).
"""

from __future__ import annotations

import os
import pathlib
import time

from drytorch.core import events, exceptions, history
from drytorch.core.run_registry import RunRegistry
from drytorch.core.track import Tracker, on
from drytorch.utils import files

__all__ = ['HistoryWriter']

_TAIL_CHUNK = 1 << 16


def _cut_torn_tail(path: pathlib.Path) -> int:
    """Check the header, cut an incomplete last line; return what is left.

    An empty file gives 0 (it gets a header). Anything else must start with
    a complete history header, checked before anything is cut: a file that
    is not a history is never changed.

    Raises:
        HistoryCorruptedError: if the file is not a history file.
    """
    with open(path, 'r+b') as stream:
        size = stream.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        stream.seek(0)
        first = stream.readline()
        if not first.endswith(b'\n'):
            raise exceptions.HistoryCorruptedError(
                path, 'it has no complete first line'
            )
        history.check_header(path, first)
        position = size
        end = len(first)
        while position > len(first):
            start = max(len(first), position - _TAIL_CHUNK)
            stream.seek(start)
            index = stream.read(position - start).rfind(b'\n')
            if index != -1:
                end = start + index + 1
                break
            position = start
        if end != size:
            stream.truncate(end)
    return end


class HistoryWriter(Tracker):
    """Append the metrics of every recorded run to its history file.

    Attributes:
        sync_interval: the longest time, in seconds, between two syncs to
            disk during a training.
    """

    def __init__(self, sync_interval: float = 10.0) -> None:
        """Create the writer.

        Args:
            sync_interval: the longest time between two syncs to disk
                during a training, in seconds.
        """
        super().__init__()
        self.sync_interval = sync_interval
        self._fd: int | None = None
        self._path: pathlib.Path | None = None
        self._pending: list[bytes] = []
        self._in_epoch = False
        self._trainers: set[str] = set()
        self._roles: dict[tuple[str, str], str] = {}
        self._last_sync = 0.0

    @property
    def path(self) -> pathlib.Path | None:
        """The history file of the current run, if it has one."""
        return self._path

    @on(events.StartRunEvent)
    def _history_on_start(self, event: events.StartRunEvent) -> None:
        self._close()
        exp_dir = history.registry_dir(event.par_dir, event.exp_name)
        if RunRegistry(exp_dir).get(event.run_id) is None:
            return  # an unrecorded run: nothing to attach the history to
        path = history.history_path(exp_dir, event.run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        exists = path.exists() and _cut_torn_tail(path) > 0
        if not exists:
            files.atomic_write_bytes(
                path, history.header_line(event.exp_name, event.run_id)
            )
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._path = path
        self._in_epoch = False
        self._trainers = set()
        self._roles = {}
        record = {
            'kind': 'start',
            'time': time.time(),
            'resumed': event.resumed,
            'config': history.config_value(event.config),
        }
        self._write([history.encode_line(record)], sync=True)

    @on(events.StartTrainingEvent)
    def _history_on_training(self, event: events.StartTrainingEvent) -> None:
        self._trainers.add(event.source_name)

    @on(events.StartEpochEvent)
    def _history_on_epoch(self, event: events.StartEpochEvent) -> None:
        self._in_epoch = True

    @on(events.MetricEvent)
    def _history_on_metric(self, event: events.MetricEvent) -> None:
        if self._fd is None:
            return
        source = event.source_name
        key = (event.model_name, source)
        role = self._roles.get(key)
        if role is None:
            if source in self._trainers:
                role = 'train'
            elif self._in_epoch:
                role = 'validation'
            else:
                role = 'test'
            self._roles[key] = role
        record = {
            'kind': 'metrics',
            'time': time.time(),
            'model': event.model_name,
            'source': source,
            'role': role,
            'epoch': event.epoch,
            'metrics': {
                name: float(value) for name, value in event.metrics.items()
            },
        }
        self._pending.append(history.encode_line(record))
        if not self._in_epoch:
            self._flush(sync=True)

    @on(events.EndEpochEvent)
    def _history_on_end_epoch(self, event: events.EndEpochEvent) -> None:
        self._in_epoch = False
        self._flush(sync=False)

    @on(events.EndTrainingEvent)
    def _history_on_end_training(self, event: events.EndTrainingEvent) -> None:
        # an epoch cut short by an error or an interrupt is not recorded
        self._pending.clear()
        self._in_epoch = False
        self._flush(sync=True)

    @on(events.StopRunEvent)
    def _history_on_stop(self, event: events.StopRunEvent) -> None:
        if self._fd is None:
            return
        self._pending.clear()
        record = {'kind': 'stop', 'time': time.time(), 'status': event.status}
        self._write([history.encode_line(record)], sync=True)

    @on(events.InterruptedTrainingEvent)
    def _history_on_interrupt(
        self, event: events.InterruptedTrainingEvent
    ) -> None:
        if self._fd is None:
            return
        self._pending.clear()  # the discarded epoch
        self._in_epoch = False
        record = {
            'kind': 'interrupted',
            'time': time.time(),
            'model': event.model_name,
            'source': event.source_name,
            'epoch': event.epoch,
        }
        self._write([history.encode_line(record)], sync=True)

    def clean_up(self) -> None:
        """Close the file and forget the run."""
        self._close()
        super().clean_up()

    def _flush(self, sync: bool) -> None:
        if self._pending:
            lines, self._pending = self._pending, []
            self._write(lines, sync=sync)
        elif sync and self._fd is not None:
            self._sync()

    def _write(self, lines: list[bytes], sync: bool) -> None:
        fd = self._fd
        if fd is None:
            return
        view = memoryview(b''.join(lines))
        while view:
            view = view[os.write(fd, view) :]
        if sync or time.monotonic() - self._last_sync >= self.sync_interval:
            self._sync()

    def _sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            self._last_sync = time.monotonic()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        self._pending = []
        self._path = None
        if fd is not None:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(sync_interval={self.sync_interval})'
