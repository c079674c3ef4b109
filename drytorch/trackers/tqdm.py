"""Progress bars for passes over a loader and for whole trainings.

:class:`TqdmLogger` draws an :class:`EpochBar` for every pass (training
epoch, validation, test) and, if asked, a :class:`TrainingBar` over the
epochs of a training. Nothing is written to disk.

Progress
--------
On each ``IterateBatchEvent`` the tracker opens an :class:`EpochBar` and
hands its :meth:`EpochBar.update` to the pass as its
:class:`~drytorch.core.events.ProgressCallback`. The bar counts batches up
to ``n_iter`` and samples up to the dataset size.

Output
------
On a terminal, bars are live tqdm bars (throttled by tqdm's
``mininterval``). In a notebook cell (the stream is a Jupyter kernel's
output), each bar is one display updated in place, at most ten times per
second: plain text and a small HTML bar, no stream of lines and no widget
state in the saved notebook; while cells are muted (see
:func:`drytorch.utils.environment.mute_cell_output`, as the ``drytorch_nb``
panel does) bars only count. Anywhere else (files, pipes, CI logs) a
carriage-return bar would fill the log with overwritten lines, so a bar
instead writes a plain ASCII line at most every five seconds, and a final
line when it closes if ``leave`` is true. Metric values are written with
:func:`~drytorch.utils.formatting.format_metrics`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import IO, Any, ClassVar

from tqdm import tqdm

from drytorch.core import events
from drytorch.core.track import Tracker, on
from drytorch.trackers._cell_progress import CellBar
from drytorch.trackers.logging import supports_carriage_return
from drytorch.utils import environment
from drytorch.utils.formatting import format_metrics

__all__ = ['EpochBar', 'TqdmLogger', 'TrainingBar']

_PLAIN_REFRESH_S = 5.0
"""Least time between two plain progress lines for the same bar."""

_DESC_WIDTH = 15


def _supports_cursor_moves(stream: object) -> bool:
    """Whether the stream can draw bars on several lines (a terminal)."""
    isatty = getattr(stream, 'isatty', None)
    try:
        return isatty is not None and bool(isatty())
    except (ValueError, OSError):
        return False


class _Progress:
    """A counter shown as a live tqdm bar, a cell display or plain lines.

    Attributes:
        silent: whether nothing is shown (the bar opened in a muted cell).
    """

    def __init__(
        self,
        *,
        total: int,
        desc: str,
        leave: bool,
        file: IO[str],
        position: int,
        unit: str,
        fmt: str | None = None,
    ) -> None:
        self.n = 0
        self._fmt = fmt  # tqdm's bar_format, for live bars and plain lines
        self.total = total
        self.desc = desc
        self.postfix = ''
        self.closed = False
        self._leave = leave
        self._file = file
        self._unit = unit
        self._bar: tqdm[Any] | None = None
        self._cell: CellBar | None = None
        self.silent = False
        self._start = self._last_line = time.monotonic()
        if environment.writes_to_cell(file):
            self.silent = environment.cell_output_muted()
            if not self.silent:
                self._cell = CellBar(
                    total=total, desc=desc, unit=unit, leave=leave
                )
        elif supports_carriage_return(file):
            if not _supports_cursor_moves(file):
                position = 0
            self._bar = tqdm(
                total=total,
                desc=desc,
                leave=leave,
                file=file,
                position=position,
                unit=unit,
                dynamic_ncols=True,
                bar_format=fmt,
            )

    def update(
        self, step: int, postfix: str | None = None, refresh: bool = False
    ) -> None:
        """Advance by step; tqdm (or the plain-line timer) throttles."""
        if self.closed:
            return
        self.n += step
        if postfix is not None:
            self.postfix = postfix
        bar = self._bar
        if bar is not None:
            if postfix is not None:
                bar.set_postfix_str(postfix, refresh=False)
            bar.update(step)
            if refresh:
                bar.refresh()
            return
        if self.silent:
            return
        cell = self._cell
        if cell is not None:
            cell.show(self.n, self.desc, self.postfix, force=refresh)
            return
        now = time.monotonic()
        if now - self._last_line >= _PLAIN_REFRESH_S:
            self._last_line = now
            self._write_line(now)

    def set_description(self, desc: str) -> None:
        """Change the description (shown at the next refresh)."""
        self.desc = desc
        if self._bar is not None and not self.closed:
            self._bar.set_description_str(desc, refresh=False)

    def close(self) -> None:
        """Draw the final state (if leave) and release the bar."""
        if self.closed:
            return
        self.closed = True
        if self._bar is not None:
            self._bar.close()
        elif self._cell is not None:
            self._cell.close(self.n, self.desc, self.postfix)
        elif self._leave and not self.silent:
            self._write_line(time.monotonic())

    def _write_line(self, now: float) -> None:
        line = tqdm.format_meter(
            self.n,
            self.total,
            now - self._start,
            prefix=self.desc,
            ascii=True,
            unit=self._unit,
            postfix=self.postfix or None,
            bar_format=self._fmt,
        )
        self._file.write(line + '\n')
        flush = getattr(self._file, 'flush', None)
        if flush is not None:
            flush()


class EpochBar:
    """Progress of one pass over a loader, in batches and samples.

    Attributes:
        batch_size: samples per batch and process (None if unknown).
        n_iter: batches of the pass, per process.
        n_samples: samples in the dataset.
        fmt: the tqdm ``bar_format`` of the bars (set it on the class to
            change every bar; as in drytorch 0.1.0rc5).
    """

    fmt: ClassVar[str] = (
        '{l_bar}{bar}| {n_fmt}/{total_fmt}, {elapsed}<{remaining}{postfix}'
    )

    def __init__(
        self,
        batch_size: int | None,
        n_iter: int,
        n_samples: int,
        leave: bool,
        file: IO[str],
        desc: str,
        position: int = 0,
    ) -> None:
        """Open the bar.

        Args:
            batch_size: samples per batch and process (None if unknown).
            n_iter: batches of the pass, per process.
            n_samples: samples in the dataset.
            leave: whether the bar stays visible once closed.
            file: where to draw the bar.
            desc: the source name, shown right-justified.
            position: the terminal line of the bar (0 = lowest free).
        """
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.n_samples = n_samples
        self._batches_done = 0
        self._samples_seen = 0
        self._progress = _Progress(
            total=n_iter,
            desc=desc.rjust(_DESC_WIDTH),
            leave=leave,
            file=file,
            position=position,
            unit='batch',
            fmt=self.fmt,
        )

    @property
    def batches_done(self) -> int:
        """Batches completed so far (at most n_iter)."""
        return self._batches_done

    @property
    def samples_seen(self) -> int:
        """Samples processed so far (at most n_samples)."""
        return self._samples_seen

    @property
    def closed(self) -> bool:
        """Whether the bar was closed."""
        return self._progress.closed

    def update(
        self,
        metrics: Mapping[str, Any],
        n_processes: int = 1,
        n_batches: int = 1,
    ) -> None:
        """Record progress: a :class:`~drytorch.core.events.ProgressCallback`.

        Args:
            metrics: current metric values by name (may be empty).
            n_processes: how many processes share the pass.
            n_batches: batches each process completed since the last call
                (the bar, like the loader's length, counts the batches of
                all processes).
        """
        # n_iter counts the batches of every process: so does the bar
        batches = max(n_batches, 0) * max(n_processes, 1)
        done = min(self._batches_done + batches, self.n_iter)
        step = done - self._batches_done
        self._batches_done = done
        if self.batch_size is None:
            # without a batch size, count samples in proportion
            seen = self.n_samples * done // max(self.n_iter, 1)
        else:
            seen = self._samples_seen + step * self.batch_size
        self._samples_seen = min(seen, self.n_samples)
        progress = self._progress
        if progress.silent:  # nothing is shown: skip formatting the text
            progress.update(step)
            return
        postfix = f'Samples={self._samples_seen}'
        if metrics:
            postfix += ', ' + format_metrics(metrics, separator=', ')
        progress.update(step, postfix)

    def close(self) -> None:
        """Close the bar (idempotent)."""
        self._progress.close()


class TrainingBar:
    """Progress of a training, in epochs.

    Attributes:
        start_epoch: the epoch before the first trained one.
        end_epoch: the last epoch to train.
        fmt: the tqdm ``bar_format`` of the bars (set it on the class to
            change every bar; as in drytorch 0.1.0rc5).
    """

    fmt: ClassVar[str] = (
        '{l_bar}{bar}| {n_fmt}/{total_fmt}, {elapsed}<{remaining}'
    )

    def __init__(
        self, start_epoch: int, end_epoch: int, file: IO[str], leave: bool
    ) -> None:
        """Open the bar.

        Args:
            start_epoch: the epoch before the first trained one.
            end_epoch: the last epoch to train.
            file: where to draw the bar.
            leave: whether the bar stays visible once closed.
        """
        self.start_epoch = start_epoch
        self.end_epoch = end_epoch
        self._progress = _Progress(
            total=max(end_epoch - start_epoch, 0),
            desc=self._desc(start_epoch + 1),
            leave=leave,
            file=file,
            position=0,
            unit='epoch',
            fmt=self.fmt,
        )

    @property
    def epochs_done(self) -> int:
        """Epochs completed so far."""
        return self._progress.n

    @property
    def closed(self) -> bool:
        """Whether the bar was closed."""
        return self._progress.closed

    def _desc(self, epoch: int) -> str:
        return f'Epoch: {epoch} / {self.end_epoch}'

    def _move_to(self, done: int) -> None:
        done = min(max(done, 0), self._progress.total)
        self._progress.update(done - self._progress.n, refresh=True)

    def update(self, epoch: int) -> None:
        """Show that an epoch starts (the ones before it are done)."""
        self._progress.set_description(self._desc(epoch))
        self._move_to(epoch - 1 - self.start_epoch)

    def complete(self, epoch: int) -> None:
        """Show that an epoch (and every one before it) is done."""
        self._move_to(epoch - self.start_epoch)

    def close(self) -> None:
        """Close the bar (idempotent)."""
        self._progress.close()


class TqdmLogger(Tracker):
    """Show progress bars for passes and, optionally, for trainings.

    Attributes:
        leave: whether the pass bars stay visible once closed.
        enable_training_bar: whether a bar spans each training; pass bars
            then sit below it and disappear when closed.
        file: where to draw, None for ``sys.stderr`` at drawing time.
    """

    def __init__(
        self,
        leave: bool = True,
        enable_training_bar: bool = False,
        file: IO[str] | None = None,
    ) -> None:
        """Configure the bars.

        Args:
            leave: whether the pass bars stay visible once closed.
            enable_training_bar: whether a bar spans each training.
            file: where to draw, None for ``sys.stderr`` at drawing time.
        """
        super().__init__()
        self.leave = leave
        self.enable_training_bar = enable_training_bar
        self.file = file
        self._epoch_bar: EpochBar | None = None
        self._training_bar: TrainingBar | None = None

    def _stream(self) -> IO[str]:
        return sys.stderr if self.file is None else self.file

    def _close_epoch_bar(self) -> None:
        bar, self._epoch_bar = self._epoch_bar, None
        if bar is not None:
            bar.close()

    def _close_training_bar(self) -> None:
        bar, self._training_bar = self._training_bar, None
        if bar is not None:
            bar.close()

    @on(events.IterateBatchEvent)
    def _on_iterate_batch(self, event: events.IterateBatchEvent) -> None:
        self._close_epoch_bar()
        nested = self._training_bar is not None
        bar = EpochBar(
            event.batch_size,
            event.n_iter,
            event.dataset_size,
            leave=self.leave and not nested,
            file=self._stream(),
            desc=event.source_name,
            position=1 if nested else 0,
        )
        self._epoch_bar = bar
        event.push_updates.append(bar.update)

    @on(events.EndEpochEvent)
    def _on_end_epoch(self, event: events.EndEpochEvent) -> None:
        self._close_epoch_bar()
        if self._training_bar is not None:
            self._training_bar.complete(event.epoch)

    @on(events.EndTestEvent)
    def _on_end_test(self, event: events.EndTestEvent) -> None:
        self._close_epoch_bar()

    @on(events.StartTrainingEvent)
    def _on_start_training(self, event: events.StartTrainingEvent) -> None:
        if not self.enable_training_bar:
            return
        self._close_epoch_bar()
        self._close_training_bar()
        self._training_bar = TrainingBar(
            event.start_epoch, event.end_epoch, self._stream(), self.leave
        )

    @on(events.StartEpochEvent)
    def _on_start_epoch(self, event: events.StartEpochEvent) -> None:
        if self._training_bar is not None:
            self._training_bar.update(event.epoch)

    @on(events.EndTrainingEvent, events.TerminatedTrainingEvent)
    def _on_end_training(
        self,
        event: events.EndTrainingEvent | events.TerminatedTrainingEvent,
    ) -> None:
        self._close_epoch_bar()
        self._close_training_bar()

    def clean_up(self) -> None:
        """Close every open bar."""
        self._close_epoch_bar()
        self._close_training_bar()
