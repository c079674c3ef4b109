"""Tests of drytorch.trackers.logging: log lines of the events."""

from __future__ import annotations

import dataclasses
import datetime
import io
import logging
import re
import subprocess
import sys

import fake_kernel
import pytest

from drytorch.core import events
from drytorch.trackers import logging as dt_logging
from drytorch.trackers.logging import INFO_LEVELS, BuiltinLogger
from drytorch.utils import environment

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5)


class TTYStream(io.StringIO):
    """A text buffer that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def stream() -> io.StringIO:
    """The default handler writes to this buffer, at every level."""
    buffer = io.StringIO()
    dt_logging.set_formatter('drytorch')
    dt_logging.enable_default_handler(buffer)
    dt_logging.disable_propagation()
    dt_logging.set_verbosity(INFO_LEVELS.internal)
    return buffer


def _start(resumed: bool = False) -> events.StartRunEvent:
    return events.StartRunEvent(
        config=None,
        exp_name='Exp',
        run_ts=NOW,
        run_id='run1',
        resumed=resumed,
    )


def _metrics(metrics: dict, source: str = 'Val') -> events.MetricEvent:
    return events.MetricEvent(
        model_name='Net', source_name=source, epoch=1, metrics=metrics
    )


TIMESTAMP = r'\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] - '


def test_info_levels_match_the_reference() -> None:
    # a dataclass instance, as in the reference (dataclasses.astuple works)
    assert dataclasses.astuple(INFO_LEVELS) == (19, 21, 23, 25, 27, 28, 29)
    assert INFO_LEVELS.metrics == 21
    assert tuple(field.name for field in dataclasses.fields(INFO_LEVELS)) == (
        'internal',
        'metrics',
        'epoch',
        'model_state',
        'experiment',
        'training',
        'test',
    )


def test_import_configures_nothing() -> None:
    code = (
        'import logging\n'
        "lg = logging.getLogger('drytorch')\n"
        'def snap():\n'
        '    return (list(lg.handlers), lg.level, lg.propagate,\n'
        '            [logging.getLevelName(n) for n in range(19, 30)],\n'
        '            list(logging.getLogger().handlers))\n'
        'before = snap()\n'
        'import drytorch.trackers.logging\n'
        'import drytorch.trackers.tqdm\n'
        'assert snap() == before, (before, snap())\n'
        'print("ok")\n'
    )
    result = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'ok'


def test_every_event_writes_its_line(stream: io.StringIO) -> None:
    tracker = BuiltinLogger()
    published: list[events.Event] = [
        _start(),
        events.ModelRegistrationEvent('Net', NOW, 'Linear()'),
        events.StartTrainingEvent('Trainer', 'Net', 0, 2),
        events.StartEpochEvent('Trainer', 'Net', 1, 2),
        events.ActorRegistrationEvent('Trainer', NOW, 'Net', NOW, {}),
        _metrics({'Loss': 0.25}, source='Trainer'),
        events.EndEpochEvent('Trainer', 'Net', 1),
        events.TerminatedTrainingEvent('Trainer', 'Net', 1, 'plateau'),
        events.EndTrainingEvent('Trainer'),
        events.SaveModelEvent('Net', 'checkpoint', '/tmp/ck', 1),
        events.LoadModelEvent('Net', 'state', '/tmp/ck', 1),
        events.StartTestEvent('Test', 'Net'),
        events.EndTestEvent('Test', 'Net'),
        events.StopRunEvent('Exp', 'run1'),
    ]
    for event in published:
        tracker.notify(event)

    lines = stream.getvalue().splitlines()
    expected = [
        TIMESTAMP + 'Experiment: Exp - Starting run: run1',
        'Model Net has been registered',
        TIMESTAMP + 'Training Net started',
        r'====> Epoch 1/2:',
        'Source Trainer Net has been registered',
        r'        Trainer: \tLoss=0\.25',
        'Epoch completed',
        TIMESTAMP + 'Training Net terminated at epoch 1. Reason: plateau',
        TIMESTAMP + 'Training ended',
        'Saving Net checkpoint in: /tmp/ck',
        'Loading Net state at epoch 1',
        TIMESTAMP + 'Testing Net started',
        'Test executed without errors',
        TIMESTAMP + 'Experiment: Exp - Stopping run: run1',
    ]
    assert len(lines) == len(expected)
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), (pattern, line)


def test_resumed_run_says_resuming(stream: io.StringIO) -> None:
    BuiltinLogger().notify(_start(resumed=True))
    assert 'Experiment: Exp - Resuming run: run1' in stream.getvalue()


def test_epoch_is_right_aligned_to_the_last_epoch(stream: io.StringIO) -> None:
    tracker = BuiltinLogger()
    tracker.notify(events.StartEpochEvent('T', 'Net', 3, 100))
    tracker.notify(events.StartEpochEvent('T', 'Net', 4))
    assert stream.getvalue().splitlines() == [
        '====> Epoch   3/100:',
        '====> Epoch 4:',
    ]


def test_metrics_line_format(stream: io.StringIO) -> None:
    BuiltinLogger().notify(_metrics({'Acc': 0.5, 'Loss': 12.0}))
    assert stream.getvalue() == '            Val: \tAcc=0.5\tLoss=12\n'


@pytest.mark.parametrize(
    'name', ['a)b', '100%', 'Top-1 (%)', '%(x)s', '%s %d', '(']
)
def test_d26_metric_names_are_never_format_strings(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # reference: a metric named 'a)b' broke the format string
    BuiltinLogger().notify(_metrics({'ok': 1.0, name: 2.0}))

    assert stream.getvalue() == f'            Val: \tok=1\t{name}=2\n'
    assert 'Logging error' not in capsys.readouterr().err


def test_d26_user_names_in_other_events_are_verbatim(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    tracker = BuiltinLogger()
    tracker.notify(events.StartTrainingEvent('T', '100% (a)b', 0, 1))
    tracker.notify(events.LearningRateEvent('m%s', 'T', 2, 0.1, 'Sched(%d)'))
    tracker.notify(events.SaveModelEvent('%(m)s', 'state', 'p%', 1))
    text = stream.getvalue()
    assert 'Training 100% (a)b started' in text
    assert (
        'Updated m%s optimizer at epoch 2. New learning rate: 0.1. '
        'New scheduler: Sched(%d)' in text
    )
    assert 'Saving %(m)s state in: p%' in text
    assert 'Logging error' not in capsys.readouterr().err


def test_learning_rate_parts_are_optional(stream: io.StringIO) -> None:
    tracker = BuiltinLogger()
    tracker.notify(events.LearningRateEvent('Net', 'T', 3))
    tracker.notify(
        events.LearningRateEvent('Net', 'T', 3, scheduler_name='Cos')
    )
    tracker.notify(
        events.LearningRateEvent(
            'Net', 'T', 3, base_lr={'enc': 0.1, 'dec': 5e-5}
        )
    )
    tracker.notify(events.LearningRateEvent('Net', 'T', 4, 0.00125))
    assert stream.getvalue().splitlines() == [
        'Updated Net optimizer at epoch 3',
        'Updated Net optimizer at epoch 3. New scheduler: Cos',
        'Updated Net optimizer at epoch 3. New learning rate: enc=0.1, '
        'dec=5e-05',
        'Updated Net optimizer at epoch 4. New learning rate: 0.00125',
    ]


class CountingValue(float):
    """A float that counts how often it is turned into text."""

    formatted = 0

    def __float__(self) -> float:  # format_number reads the value here
        type(self).formatted += 1
        return super().__float__()


def test_metric_text_is_built_only_when_logged(stream: io.StringIO) -> None:
    CountingValue.formatted = 0
    tracker = BuiltinLogger()
    dt_logging.set_verbosity(INFO_LEVELS.epoch)

    tracker.notify(_metrics({'Loss': CountingValue(1.0)}))
    assert CountingValue.formatted == 0
    assert stream.getvalue() == ''

    dt_logging.set_verbosity(INFO_LEVELS.metrics)
    tracker.notify(_metrics({'Loss': CountingValue(1.0)}))
    assert CountingValue.formatted == 1
    assert 'Loss=1\n' in stream.getvalue()


def test_verbosity_filters_levels(stream: io.StringIO) -> None:
    tracker = BuiltinLogger()
    dt_logging.set_verbosity(INFO_LEVELS.training)
    assert dt_logging.get_verbosity() == INFO_LEVELS.training
    tracker.notify(events.StartEpochEvent('T', 'Net', 1, 2))
    tracker.notify(_metrics({'Loss': 1.0}))
    tracker.notify(events.StartTrainingEvent('T', 'Net', 0, 2))
    assert stream.getvalue().count('\n') == 1
    assert 'Training Net started' in stream.getvalue()


def test_set_verbosity_rejects_non_int() -> None:
    with pytest.raises(TypeError, match='Expected an int level, got str'):
        dt_logging.set_verbosity('21')  # type: ignore[arg-type]


def test_plain_stream_gets_plain_lines(stream: io.StringIO) -> None:
    tracker = BuiltinLogger()
    tracker.notify(_start())
    tracker.notify(events.StartEpochEvent('T', 'Net', 1, 2))
    tracker.notify(_metrics({'Loss': 1.0}))
    text = stream.getvalue()
    assert '\r' not in text
    assert text.endswith('\n')
    assert len(text.splitlines()) == 3


def test_progress_formatter_on_plain_stream_keeps_lines(
    stream: io.StringIO,
) -> None:
    dt_logging.set_formatter('progress')
    tracker = BuiltinLogger()
    tracker.notify(events.StartEpochEvent('T', 'Net', 1, 2))
    tracker.notify(events.SaveModelEvent('Net', 'state', 'loc', 1))
    assert stream.getvalue() == (
        '====> Epoch 1/2:\nSaving Net state in: loc\n'
    )


def test_terminal_lines_start_with_carriage_return() -> None:
    tty = TTYStream()
    dt_logging.enable_default_handler(tty)
    dt_logging.set_verbosity(INFO_LEVELS.internal)
    tracker = BuiltinLogger()
    tracker.notify(events.StartEpochEvent('T', 'Net', 1, 2))
    tracker.notify(events.EndEpochEvent('T', 'Net', 1))
    assert tty.getvalue() == '\r====> Epoch 1/2:\n\rEpoch completed\n'


def test_progress_formatter_on_terminal_overwrites_transient_lines() -> None:
    tty = TTYStream()
    dt_logging.enable_default_handler(tty)
    dt_logging.set_formatter('progress')
    dt_logging.set_verbosity(INFO_LEVELS.internal)
    tracker = BuiltinLogger()
    tracker.notify(events.StartEpochEvent('T', 'Net', 1, 2))
    tracker.notify(events.LoadModelEvent('Net', 'state', 'loc', 1))
    tracker.notify(_metrics({'L': 1.0}, source='T'))
    assert tty.getvalue() == (
        '\r====> Epoch 1/2: ...\r'
        '\rLoading Net state at epoch 1\r'
        '\r              T: \tL=1\n'
    )


def test_set_formatter_rejects_unknown_style() -> None:
    with pytest.raises(ValueError, match="Expected formatter 'drytorch' or "):
        dt_logging.set_formatter('bogus')
    with pytest.raises(ValueError, match="got 'bogus'"):
        dt_logging.set_formatter('bogus')


def test_default_handler_uses_stderr_at_call_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    replaced = io.StringIO()
    monkeypatch.setattr(sys, 'stderr', replaced)
    dt_logging.enable_default_handler()
    dt_logging.set_verbosity(INFO_LEVELS.internal)
    BuiltinLogger().notify(events.EndEpochEvent('T', 'Net', 1))
    assert replaced.getvalue() == 'Epoch completed\n'


def test_enabling_twice_replaces_only_the_default_handler() -> None:
    drytorch_logger = logging.getLogger('drytorch')
    user_buffer = io.StringIO()
    user_handler = logging.StreamHandler(user_buffer)
    drytorch_logger.addHandler(user_handler)
    first, second = io.StringIO(), io.StringIO()
    dt_logging.enable_default_handler(first)
    dt_logging.enable_default_handler(second)
    dt_logging.set_verbosity(INFO_LEVELS.internal)

    BuiltinLogger().notify(events.EndEpochEvent('T', 'Net', 1))

    assert first.getvalue() == ''
    assert second.getvalue() == 'Epoch completed\n'
    assert user_buffer.getvalue() == 'Epoch completed\n'
    assert user_handler in drytorch_logger.handlers


def test_disable_default_handler_stops_output(stream: io.StringIO) -> None:
    dt_logging.disable_default_handler()
    BuiltinLogger().notify(events.EndEpochEvent('T', 'Net', 1))
    assert stream.getvalue() == ''
    handlers = logging.getLogger('drytorch').handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_level_names_are_registered_on_first_use() -> None:
    dt_logging.enable_default_handler(io.StringIO())
    assert logging.getLevelName(INFO_LEVELS.metrics) == ' metrics  '
    assert logging.getLevelName(INFO_LEVELS.epoch).strip() == 'epoch'
    assert logging.getLevelName(INFO_LEVELS.test) == '   test   '


def test_propagation_deduplicates_the_shared_stream(
    stream: io.StringIO,
) -> None:
    root = logging.getLogger()
    root_handler = logging.StreamHandler(stream)
    root_handler.setFormatter(logging.Formatter('ROOT %(message)s\n'))
    root_handler.terminator = ''
    other = io.StringIO()
    other_handler = logging.StreamHandler(other)
    root.addHandler(root_handler)
    root.addHandler(other_handler)
    try:
        tracker = BuiltinLogger()
        dt_logging.enable_propagation()
        tracker.notify(events.EndEpochEvent('T', 'Net', 1))
        assert stream.getvalue() == 'Epoch completed\n'
        assert other.getvalue() == 'Epoch completed\n'

        dt_logging.enable_propagation(deduplicate_stream=False)
        tracker.notify(events.EndEpochEvent('T', 'Net', 2))
        assert stream.getvalue().count('ROOT Epoch completed') == 1

        dt_logging.disable_propagation()
        assert not root_handler.filters
        tracker.notify(events.EndEpochEvent('T', 'Net', 3))
        assert other.getvalue().count('Epoch completed') == 2
    finally:
        root.removeHandler(root_handler)
        root.removeHandler(other_handler)


def test_drytorch_filter_drops_drytorch_records() -> None:
    drop = logging.LogRecord('drytorch.x', 21, '', 0, 'm', None, None)
    keep = logging.LogRecord('hydra', 21, '', 0, 'm', None, None)
    assert not dt_logging.DryTorchFilter().filter(drop)
    assert dt_logging.DryTorchFilter().filter(keep)


def test_carriage_return_support_detection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = io.StringIO()
    closed.close()
    assert dt_logging.supports_carriage_return(TTYStream())
    assert not dt_logging.supports_carriage_return(io.StringIO())
    assert not dt_logging.supports_carriage_return(closed)
    assert not dt_logging.supports_carriage_return(object())
    # a notebook cell would keep every overwritten line: no carriage return
    cell = fake_kernel.OutStream()
    fake_kernel.install_kernel(monkeypatch)
    assert not dt_logging.supports_carriage_return(cell)


def test_metric_lines_use_the_shared_number_format(
    stream: io.StringIO,
) -> None:
    metrics = {'loss': 0.75190001, 'tiny': 5e-5, 'big': 123456.0, 'n': 3}
    BuiltinLogger().notify(_metrics(metrics))
    assert stream.getvalue() == (
        '            Val: \tloss=0.7519\ttiny=5e-05\tbig=1.235e+05\tn=3\n'
    )


def test_metric_line_without_metrics(stream: io.StringIO) -> None:
    BuiltinLogger().notify(_metrics({}))
    assert stream.getvalue() == '            Val: \n'


def test_event_records_are_marked(
    stream: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(INFO_LEVELS.internal, logger='drytorch'):
        BuiltinLogger().notify(_start())
        dt_logging.logger.warning('from a hook')
    event_record, other = caplog.records
    assert dt_logging.is_event_record(event_record)
    assert not dt_logging.is_event_record(other)
    assert event_record.funcName == '_on_start_experiment'


def test_muted_cells_get_no_log_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_kernel.install_kernel(monkeypatch)
    monkeypatch.setattr(environment, '_mute_tokens', [])
    cell = fake_kernel.OutStream()
    dt_logging.enable_default_handler(cell)
    dt_logging.set_verbosity(INFO_LEVELS.metrics)
    tracker = BuiltinLogger()
    tracker.notify(_metrics({'L': 1.0}))
    assert cell.getvalue() == '            Val: \tL=1\n'  # no \r in cells

    owner = object()
    environment.mute_cell_output(owner)
    tracker.notify(_metrics({'L': 2.0}))
    dt_logging.logger.warning('hidden too')
    assert cell.getvalue() == '            Val: \tL=1\n'
    environment.unmute_cell_output(owner)
    tracker.notify(_metrics({'L': 3.0}))
    assert cell.getvalue().splitlines()[-1] == '            Val: \tL=3'


def test_mute_leaves_other_streams_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_kernel.install_kernel(monkeypatch)
    monkeypatch.setattr(environment, '_mute_tokens', [])
    log_file = io.StringIO()
    dt_logging.enable_default_handler(log_file)
    dt_logging.set_verbosity(INFO_LEVELS.metrics)
    environment.mute_cell_output(object())
    BuiltinLogger().notify(_metrics({'L': 1.0}))
    assert log_file.getvalue() == '            Val: \tL=1\n'
