"""Tests of drytorch.trackers.tqdm: progress bars driven by events."""

from __future__ import annotations

import datetime
import io
import sys

import fake_kernel
import pytest

from drytorch.core import events
from drytorch.trackers import _cell_progress
from drytorch.trackers import tqdm as dt_tqdm
from drytorch.trackers.tqdm import EpochBar, TqdmLogger, TrainingBar
from drytorch.utils import environment


class TTYStream(io.StringIO):
    """A text buffer that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _iterate(
    source: str = 'Trainer',
    batch_size: int | None = 4,
    n_iter: int = 3,
    dataset_size: int = 10,
) -> events.IterateBatchEvent:
    return events.IterateBatchEvent(source, batch_size, n_iter, dataset_size)


def _bar_of(event: events.IterateBatchEvent) -> EpochBar:
    (callback,) = event.push_updates
    bar = callback.__self__  # type: ignore[attr-defined]
    assert isinstance(bar, EpochBar)
    return bar


def test_iterate_event_gets_an_epoch_bar_callback() -> None:
    tracker = TqdmLogger(file=io.StringIO())
    event = _iterate()
    tracker.notify(event)
    bar = _bar_of(event)
    assert (bar.batch_size, bar.n_iter, bar.n_samples) == (4, 3, 10)
    assert bar.batches_done == 0
    tracker.clean_up()


def test_samples_are_counted_by_batches_and_capped() -> None:
    tracker = TqdmLogger(file=io.StringIO())
    event = _iterate(batch_size=4, n_iter=3, dataset_size=10)
    tracker.notify(event)
    bar = _bar_of(event)

    event.update({'loss': 0.5}, 1, 2)
    assert (bar.batches_done, bar.samples_seen) == (2, 8)
    event.update({'loss': 0.25}, 1, 1)  # last batch holds 2 samples
    assert (bar.batches_done, bar.samples_seen) == (3, 10)
    event.update({}, 1, 4)  # a late or repeated final call changes nothing
    assert (bar.batches_done, bar.samples_seen) == (3, 10)
    tracker.clean_up()


def test_samples_grow_with_the_number_of_processes() -> None:
    # 2 processes, 3 batches each: the loader's length is 6
    bar = EpochBar(4, 6, 20, leave=True, file=io.StringIO(), desc='Val')
    bar.update({}, 2)  # default: one batch per process per call
    assert (bar.batches_done, bar.samples_seen) == (2, 8)
    bar.update({}, 2, 1)
    assert (bar.batches_done, bar.samples_seen) == (4, 16)
    bar.update({}, 2, 1)
    assert (bar.batches_done, bar.samples_seen) == (6, 20)
    bar.close()


def test_unknown_batch_size_counts_samples_in_proportion() -> None:
    bar = EpochBar(None, 4, 10, leave=True, file=io.StringIO(), desc='T')
    bar.update({}, 1, 2)
    assert bar.samples_seen == 5
    bar.update({}, 1, 2)
    assert bar.samples_seen == 10
    bar.close()


def test_plain_stream_gets_a_final_line_without_carriage_returns() -> None:
    out = io.StringIO()
    tracker = TqdmLogger(file=out)
    event = _iterate(source='Val', batch_size=4, n_iter=3, dataset_size=10)
    tracker.notify(event)
    event.update({'loss': 0.5, 'acc': 0.75}, 1, 3)
    assert out.getvalue() == ''  # nothing drawn while the pass runs
    tracker.notify(events.EndEpochEvent('Trainer', 'Net', 1))

    text = out.getvalue()
    assert '\r' not in text
    assert '\x1b' not in text
    (line,) = text.splitlines()
    assert line.startswith('            Val: 100%|')
    assert '3/3' in line
    assert 'Samples=10, loss=0.5, acc=0.75' in line
    assert text.endswith('\n')


def test_plain_stream_writes_throttled_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dt_tqdm, '_PLAIN_REFRESH_S', 0.0)
    out = io.StringIO()
    bar = EpochBar(2, 4, 8, leave=False, file=out, desc='T')
    bar.update({'l': 1.0}, 1, 1)
    bar.update({'l': 2.0}, 1, 1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # no final line without leave
    assert '1/4' in lines[0]
    assert 'Samples=2, l=1' in lines[0]
    assert 'Samples=4, l=2' in lines[1]
    assert '\r' not in out.getvalue()


def test_plain_stream_without_leave_writes_nothing_for_short_passes() -> None:
    out = io.StringIO()
    tracker = TqdmLogger(leave=False, file=out)
    event = _iterate()
    tracker.notify(event)
    event.update({}, 1, 3)
    tracker.notify(events.EndTestEvent('Test', 'Net'))
    assert out.getvalue() == ''
    assert _bar_of(event).closed


def test_terminal_gets_a_live_bar() -> None:
    out = TTYStream()
    tracker = TqdmLogger(file=out)
    event = _iterate(source='Test')
    tracker.notify(event)
    event.update({'mse': 2.0}, 1, 3)
    tracker.notify(events.EndTestEvent('Test', 'Net'))
    text = out.getvalue()
    assert '\r' in text
    assert 'Test: 100%' in text
    assert 'Samples=10, mse=2' in text
    assert text.endswith('\n')  # left on screen
    assert _bar_of(event).closed


def test_bars_close_on_end_epoch_and_on_new_pass() -> None:
    tracker = TqdmLogger(file=io.StringIO())
    train = _iterate('Trainer')
    tracker.notify(train)
    validation = _iterate('Validation')
    tracker.notify(validation)
    assert _bar_of(train).closed
    assert not _bar_of(validation).closed
    tracker.notify(events.EndEpochEvent('Trainer', 'Net', 1))
    assert _bar_of(validation).closed


def test_update_after_close_is_ignored() -> None:
    out = io.StringIO()
    bar = EpochBar(4, 3, 10, leave=True, file=out, desc='T')
    bar.update({}, 1, 1)
    bar.close()
    written = out.getvalue()
    bar.update({}, 1, 1)
    bar.close()
    assert out.getvalue() == written


def _train(tracker: TqdmLogger, n_epochs: int) -> list[EpochBar]:
    bars = []
    tracker.notify(events.StartTrainingEvent('Trainer', 'Net', 0, n_epochs))
    for epoch in range(1, n_epochs + 1):
        tracker.notify(
            events.StartEpochEvent('Trainer', 'Net', epoch, n_epochs)
        )
        event = _iterate()
        tracker.notify(event)
        event.update({'loss': 1.0}, 1, 3)
        bars.append(_bar_of(event))
        tracker.notify(events.EndEpochEvent('Trainer', 'Net', epoch))
    return bars


def test_training_bar_spans_the_training() -> None:
    out = io.StringIO()
    tracker = TqdmLogger(enable_training_bar=True, file=out)
    bars = _train(tracker, 3)
    training_bar = tracker._training_bar
    assert isinstance(training_bar, TrainingBar)
    assert training_bar.epochs_done == 3
    tracker.notify(events.EndTrainingEvent('Trainer'))

    assert training_bar.closed
    assert all(bar.closed for bar in bars)
    # epoch bars under a training bar are not left: one line in all
    (line,) = out.getvalue().splitlines()
    assert line.startswith('Epoch: 3 / 3: 100%|')
    assert '3/3' in line


def test_training_bar_on_terminal_nests_epoch_bars() -> None:
    out = TTYStream()
    tracker = TqdmLogger(enable_training_bar=True, file=out)
    _train(tracker, 2)
    tracker.notify(events.EndTrainingEvent('Trainer'))
    text = out.getvalue()
    assert 'Epoch: 2 / 2' in text
    assert 'Trainer:' in text


def test_training_bar_follows_epochs() -> None:
    bar = TrainingBar(5, 8, io.StringIO(), leave=True)
    bar.update(6)
    assert bar.epochs_done == 0
    bar.complete(6)
    bar.update(7)
    assert bar.epochs_done == 1
    bar.complete(99)
    assert bar.epochs_done == 3  # capped at the epochs to train
    bar.close()
    assert bar.closed


def test_no_training_bar_unless_enabled() -> None:
    out = io.StringIO()
    tracker = TqdmLogger(file=out)
    _train(tracker, 2)
    tracker.notify(events.EndTrainingEvent('Trainer'))
    assert tracker._training_bar is None
    assert len(out.getvalue().splitlines()) == 2  # one left line per epoch


def test_terminated_training_closes_every_bar() -> None:
    tracker = TqdmLogger(enable_training_bar=True, file=io.StringIO())
    tracker.notify(events.StartTrainingEvent('Trainer', 'Net', 0, 5))
    tracker.notify(events.StartEpochEvent('Trainer', 'Net', 1, 5))
    event = _iterate()
    tracker.notify(event)
    training_bar = tracker._training_bar
    assert training_bar is not None
    tracker.notify(events.TerminatedTrainingEvent('Trainer', 'Net', 1, 'NaN'))
    assert training_bar.closed
    assert _bar_of(event).closed


def test_clean_up_closes_the_bars() -> None:
    tracker = TqdmLogger(enable_training_bar=True, file=io.StringIO())
    tracker.notify(events.StartTrainingEvent('Trainer', 'Net', 0, 5))
    event = _iterate()
    tracker.notify(event)
    training_bar = tracker._training_bar
    assert training_bar is not None
    tracker.clean_up()
    assert training_bar.closed
    assert _bar_of(event).closed


def test_stopping_the_run_closes_the_bars() -> None:
    tracker = TqdmLogger(file=io.StringIO())
    tracker.notify(
        events.StartRunEvent(None, 'Exp', datetime.datetime(2026, 1, 1), 'r')
    )
    event = _iterate()
    tracker.notify(event)
    tracker.notify(events.StopRunEvent('Exp', 'r'))
    assert _bar_of(event).closed


def test_default_file_is_stderr_when_the_bar_opens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracker = TqdmLogger()
    replaced = io.StringIO()
    monkeypatch.setattr(sys, 'stderr', replaced)
    event = _iterate(source='Late')
    tracker.notify(event)
    event.update({}, 1, 3)
    tracker.clean_up()
    assert 'Late: 100%' in replaced.getvalue()


# ------------------------------------------------------------ notebook cells


class CountedFloat(float):
    """A float that counts how often its value is read for text."""

    reads = 0

    def __float__(self) -> float:
        type(self).reads += 1
        return super().__float__()


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> fake_kernel.FakeIPython:
    """A fake kernel whose displays are recorded; cells not muted."""
    monkeypatch.setattr(environment, '_mute_tokens', [])
    monkeypatch.setattr(_cell_progress, '_free_displays', [])
    return fake_kernel.install_kernel(monkeypatch)


def test_cell_gets_one_display_per_bar_and_no_text(
    kernel: fake_kernel.FakeIPython,
) -> None:
    cell = fake_kernel.OutStream()
    tracker = TqdmLogger(file=cell)
    for source in ('Trainer', 'Validation'):
        event = _iterate(source=source, n_iter=3, dataset_size=10)
        tracker.notify(event)
        for _ in range(3):
            event.update({'loss': 0.75190001}, 1, 1)
    tracker.clean_up()

    assert cell.getvalue() == ''  # no stream text, no carriage returns
    assert len(kernel.handles) == 2  # one display per bar
    train, validation = kernel.handles
    final = train.last
    assert set(final) == {'text/plain', 'text/html'}
    text = final['text/plain']
    assert text.startswith('        Trainer: 100%|##########| 3/3 [')
    assert 'batch/s]' in text
    assert text.endswith('Samples=10, loss=0.7519')
    assert '\r' not in text and '\n' not in text
    page = final['text/html']
    assert 'width:100%' in page and 'Samples=10, loss=0.7519' in page
    assert 'Validation' in validation.last['text/plain']


def test_cell_updates_are_throttled(
    kernel: fake_kernel.FakeIPython,
) -> None:
    bar = EpochBar(1, 1000, 1000, True, fake_kernel.OutStream(), 'T')
    for _ in range(1000):
        bar.update({}, 1, 1)
    (handle,) = kernel.handles
    # at most one update per 0.1 s: far fewer than the 1000 calls
    assert len(handle.contents) < 50
    bar.close()
    assert '1000/1000' in handle.last['text/plain']


def test_cell_text_is_escaped_in_html(
    kernel: fake_kernel.FakeIPython,
) -> None:
    bar = EpochBar(
        1, 2, 2, True, fake_kernel.OutStream(), '<img src=x onerror=alert(1)>'
    )
    bar.update({'<b>': 1.0}, 1, 2)
    bar.close()
    page = kernel.handles[0].last['text/html']
    assert '<img' not in page and '<b>' not in page
    assert '&lt;img src=x onerror=alert(1)&gt;' in page
    assert '&lt;b&gt;=1' in page


def test_transient_bars_share_one_display_in_a_cell(
    kernel: fake_kernel.FakeIPython,
) -> None:
    tracker = TqdmLogger(
        enable_training_bar=True, file=fake_kernel.OutStream()
    )
    _train(tracker, 3)
    tracker.notify(events.EndTrainingEvent('Trainer'))
    # the training bar and one display reused by the three pass bars
    training, passes = kernel.handles
    assert training.last['text/plain'].startswith('Epoch: 3 / 3: 100%|')
    assert passes.last == {'text/plain': ''}  # blanked when closed
    # in a later cell, a transient bar gets a display of its own
    kernel.shell.execution_count += 1
    tracker.notify(events.StartTrainingEvent('Trainer', 'Net', 3, 4))
    tracker.notify(_iterate())
    assert len(kernel.handles) == 4


def test_muted_cells_get_no_bars(kernel: fake_kernel.FakeIPython) -> None:
    cell = fake_kernel.OutStream()
    environment.mute_cell_output(kernel)
    tracker = TqdmLogger(enable_training_bar=True, file=cell)
    bars = _train(tracker, 2)
    tracker.notify(events.EndTrainingEvent('Trainer'))
    assert cell.getvalue() == ''
    assert kernel.handles == []
    assert bars[-1].batches_done == 3  # the bars still count
    # ... and do not even write their metrics as text
    counted = CountedFloat(0.5)
    bar = EpochBar(4, 3, 10, leave=True, file=cell, desc='Muted')
    bar.update({'loss': counted}, 1, 3)
    bar.close()
    assert CountedFloat.reads == 0
    assert cell.getvalue() == '' and kernel.handles == []
    # a file chosen by the user is not a cell: it still gets its lines
    log_file = io.StringIO()
    bar = EpochBar(4, 3, 10, leave=True, file=log_file, desc='File')
    bar.update({}, 1, 3)
    bar.close()
    assert 'File: 100%' in log_file.getvalue()
    environment.unmute_cell_output(kernel)
    tracker.notify(_iterate())
    assert len(kernel.handles) == 1


def test_meter_text_without_progress_has_no_rate_nor_eta() -> None:
    line = _cell_progress.meter_text(0, 37, 0.0, 'T', '', 'batch')
    assert line == 'T:   0%|          | 0/37 [00:00<--:--, ?batch/s]'
    line = _cell_progress.meter_text(24, 37, 6.0, 'T', 'a=1', 'batch')
    assert line == 'T:  64%|######    | 24/37 [00:06<00:03, 4batch/s] a=1'
