"""Tests of drytorch._init: presets of default trackers and logging."""

from __future__ import annotations

import io
import logging
import subprocess
import sys

import pytest

from drytorch import _init
from drytorch.core import events, exceptions, track
from drytorch.trackers import logging as dt_logging
from drytorch.trackers.logging import INFO_LEVELS, BuiltinLogger


@pytest.fixture(autouse=True)
def _forget_applied_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as if no mode had been applied yet."""
    monkeypatch.setattr(track.default_setup, 'mode', None)


def _redirect(monkeypatch: pytest.MonkeyPatch) -> tuple[io.StringIO, ...]:
    """Replace stdout and stderr (in the test: pytest swaps them per phase)."""
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, 'stdout', out)
    monkeypatch.setattr(sys, 'stderr', err)
    return out, err


def _hide(monkeypatch: pytest.MonkeyPatch, package: str, module: str) -> None:
    """Make the package look uninstalled and forget the tracker module."""
    monkeypatch.setitem(sys.modules, package, None)
    monkeypatch.delitem(sys.modules, module, raising=False)


def _default_handler() -> logging.StreamHandler:
    handler = dt_logging._state.handler
    assert isinstance(handler, logging.StreamHandler)
    assert handler in logging.getLogger('drytorch').handlers
    return handler


def _log_epoch_and_metrics() -> None:
    tracker = track.DEFAULT_TRACKERS['BuiltinLogger']
    tracker.notify(events.StartEpochEvent('Trainer', 'Net', 1, 2))
    tracker.notify(events.MetricEvent('Net', 'Trainer', 1, {'Loss': 1.0}))


def test_standard_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    _, err = _redirect(monkeypatch)
    _init.init_trackers()

    assert list(track.DEFAULT_TRACKERS) == [
        'BuiltinLogger',
        'TqdmLogger',
        'YamlDumper',
        'HistoryWriter',
        'CodeRecorder',
    ]
    bar = track.DEFAULT_TRACKERS['TqdmLogger']
    assert bar.leave is True  # type: ignore[attr-defined]
    assert bar.enable_training_bar is False  # type: ignore[attr-defined]
    assert dt_logging.get_verbosity() == INFO_LEVELS.epoch
    assert _default_handler().stream is sys.stderr
    assert type(_default_handler().formatter) is dt_logging.DryTorchFormatter
    assert logging.getLogger('drytorch').propagate is False
    assert _init.get_init_mode() == 'standard'

    _log_epoch_and_metrics()  # metrics are on the bars, not in the log
    assert err.getvalue() == '====> Epoch 1/2:\n'


def test_hydra_mode_logs_to_stdout_and_propagates_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, err = _redirect(monkeypatch)
    root = logging.getLogger()
    root_handler = logging.StreamHandler(sys.stdout)
    root.addHandler(root_handler)
    try:
        _init.init_trackers('hydra')

        assert list(track.DEFAULT_TRACKERS) == [
            'BuiltinLogger',
            'TqdmLogger',
            'YamlDumper',
            'HistoryWriter',
            'CodeRecorder',
        ]
        bar = track.DEFAULT_TRACKERS['TqdmLogger']
        assert bar.leave is False  # type: ignore[attr-defined]
        assert dt_logging.get_verbosity() == INFO_LEVELS.metrics
        assert _default_handler().stream is sys.stdout
        assert logging.getLogger('drytorch').propagate is True

        _log_epoch_and_metrics()
        text = out.getvalue()
        assert text.count('====> Epoch 1/2:') == 1
        assert text.count('Loss=1\n') == 1
        assert err.getvalue() == ''
    finally:
        root.removeHandler(root_handler)


def test_minimal_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    _redirect(monkeypatch)
    _init.init_trackers('minimal')

    assert list(track.DEFAULT_TRACKERS) == ['BuiltinLogger', 'TqdmLogger']
    bar = track.DEFAULT_TRACKERS['TqdmLogger']
    assert bar.leave is True  # type: ignore[attr-defined]
    assert bar.enable_training_bar is True  # type: ignore[attr-defined]
    assert dt_logging.get_verbosity() == INFO_LEVELS.training
    assert _default_handler().stream is sys.stderr
    assert logging.getLogger('drytorch').propagate is False


def test_none_mode_is_accepted_by_init_trackers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _redirect(monkeypatch)
    # reference (D29): init_trackers('none') raised ValueError
    track.DEFAULT_TRACKERS['BuiltinLogger'] = BuiltinLogger()
    _init.init_trackers('none')

    assert track.DEFAULT_TRACKERS == {}
    assert dt_logging.get_verbosity() == 0
    assert _default_handler().stream is sys.stderr
    assert _init.get_init_mode() == 'none'


def test_switching_modes_keeps_a_single_default_handler() -> None:
    _init.init_trackers('hydra')
    _init.init_trackers('standard')
    handlers = logging.getLogger('drytorch').handlers
    ours = [h for h in handlers if h is dt_logging._state.handler]
    assert len(ours) == 1
    assert (
        len(handlers)
        == len([h for h in handlers if h is not dt_logging._state.handler]) + 1
    )
    assert logging.getLogger('drytorch').propagate is False
    assert not any(
        isinstance(f, dt_logging.DryTorchFilter)
        for h in logging.getLogger().handlers
        for f in h.filters
    )


def test_init_marks_the_defaults_as_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(track.default_setup, 'chosen', False)
    _init.init_trackers('minimal')
    assert track.default_setup.chosen
    track.ensure_default_trackers()  # does not re-initialize from env
    assert list(track.DEFAULT_TRACKERS) == ['BuiltinLogger', 'TqdmLogger']


def test_first_experiment_installs_the_env_preset_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conftest import Config

    from drytorch.core.experiment import Experiment

    _redirect(monkeypatch)
    monkeypatch.setattr(track.default_setup, 'chosen', False)
    monkeypatch.setenv('DRYTORCH_INIT_MODE', 'minimal')
    assert track.DEFAULT_TRACKERS == {}

    first = Experiment(Config(), name='First')
    assert list(first.trackers.named_trackers) == [
        'BuiltinLogger',
        'TqdmLogger',
    ]
    assert _init.get_init_mode() == 'minimal'

    track.DEFAULT_TRACKERS.clear()
    assert Experiment(Config(), name='Second').trackers.named_trackers == {}


def test_removing_the_defaults_first_keeps_the_preset_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conftest import Config

    from drytorch.core.experiment import Experiment

    monkeypatch.setattr(track.default_setup, 'chosen', False)
    track.remove_all_default_trackers()
    assert Experiment(Config(), name='E').trackers.named_trackers == {}


@pytest.mark.parametrize('mode', ['bogus', 'Standard', '', 'None'])
def test_d29_invalid_mode_names_valid_modes_and_changes_nothing(
    mode: str,
) -> None:
    sentinel = BuiltinLogger()
    track.DEFAULT_TRACKERS['Mine'] = sentinel
    drytorch_logger = logging.getLogger('drytorch')
    handlers = list(drytorch_logger.handlers)
    level = drytorch_logger.level

    with pytest.raises(ValueError, match='Expected an init mode') as info:
        _init.init_trackers(mode)

    message = str(info.value)
    assert '{mode}' not in message  # reference: unformatted template
    for valid in ('standard', 'hydra', 'minimal', 'none'):
        assert repr(valid) in message
    assert f'got {mode!r}' in message
    # reference: the defaults were already cleared
    defaults = track.DEFAULT_TRACKERS
    assert defaults == {'Mine': sentinel}
    assert drytorch_logger.handlers == handlers
    assert drytorch_logger.level == level


def test_missing_tqdm_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hide(monkeypatch, 'tqdm', 'drytorch.trackers.tqdm')
    with pytest.warns(exceptions.FailedOptionalImportWarning, match='tqdm'):
        _init.init_trackers('standard')
    assert list(track.DEFAULT_TRACKERS) == [
        'BuiltinLogger',
        'YamlDumper',
        'HistoryWriter',
        'CodeRecorder',
    ]
    assert dt_logging.get_verbosity() == INFO_LEVELS.metrics


def test_minimal_without_tqdm_uses_the_progress_formatter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hide(monkeypatch, 'tqdm', 'drytorch.trackers.tqdm')
    with pytest.warns(exceptions.FailedOptionalImportWarning, match='tqdm'):
        _init.init_trackers('minimal')
    assert list(track.DEFAULT_TRACKERS) == ['BuiltinLogger']
    assert dt_logging.get_verbosity() == INFO_LEVELS.epoch
    assert type(_default_handler().formatter) is dt_logging.ProgressFormatter


def test_missing_yaml_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hide(monkeypatch, 'yaml', 'drytorch.trackers.yaml')
    with pytest.warns(exceptions.FailedOptionalImportWarning, match='yaml'):
        _init.init_trackers('hydra')
    assert list(track.DEFAULT_TRACKERS) == [
        'BuiltinLogger',
        'TqdmLogger',
        'HistoryWriter',
        'CodeRecorder',
    ]


@pytest.mark.parametrize(
    ('value', 'expected'),
    [(None, 'standard'), ('', 'standard'), ('minimal', 'minimal')],
)
def test_init_from_env(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: str
) -> None:
    if value is not None:
        monkeypatch.setenv('DRYTORCH_INIT_MODE', value)
    assert _init.get_init_mode() == expected  # before anything is applied
    _init.init_from_env()
    assert _init.get_init_mode() == expected


def test_init_from_env_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('DRYTORCH_INIT_MODE', 'none')
    _init.init_from_env()
    assert track.DEFAULT_TRACKERS == {}


def test_d29_invalid_env_value_is_reported_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sentinel = BuiltinLogger()
    track.DEFAULT_TRACKERS['Mine'] = sentinel
    monkeypatch.setenv('DRYTORCH_INIT_MODE', 'bogus')

    with pytest.raises(ValueError, match='DRYTORCH_INIT_MODE') as info:
        _init.init_from_env()

    message = str(info.value)
    assert "got 'bogus'" in message
    for valid in ('standard', 'hydra', 'minimal', 'none'):
        assert repr(valid) in message
    defaults = track.DEFAULT_TRACKERS
    assert defaults == {'Mine': sentinel}


def test_get_init_mode_reports_the_last_applied_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv('DRYTORCH_INIT_MODE', 'hydra')
    _init.init_trackers('none')
    assert _init.get_init_mode() == 'none'


def test_import_does_nothing() -> None:
    code = (
        'import logging, sys\n'
        'import drytorch._init\n'
        'from drytorch.core import track\n'
        "lg = logging.getLogger('drytorch')\n"
        'assert track.DEFAULT_TRACKERS == {}\n'
        'assert lg.handlers == [] and lg.level == 0, lg.handlers\n'
        "assert 'tqdm' not in sys.modules\n"
        "assert 'drytorch.trackers.yaml' not in sys.modules\n"
        'print("ok")\n'
    )
    result = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={'DRYTORCH_INIT_MODE': 'bogus', 'PATH': ''},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'ok'


def test_code_recorder_can_be_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _redirect(monkeypatch)
    monkeypatch.setenv('DRYTORCH_RECORD_CODE', '0')
    _init.init_trackers('standard')
    assert 'CodeRecorder' not in track.DEFAULT_TRACKERS
    assert 'HistoryWriter' in track.DEFAULT_TRACKERS
