"""The extension hands the cells to the panel: no tracker text, one Log.

In an in-process IPython shell that the environment takes for a kernel:
loading mutes the default trackers' cell output and forwards the other
records of the 'drytorch' logger to the panel's Log; the switch and
unloading undo exactly that. Real kernels: tests/test_nb_outputs_kernel.py.
"""

from __future__ import annotations

import datetime
import io
import logging

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config as TraitletsConfig

import drytorch_nb
from drytorch.core import events
from drytorch.trackers import logging as dt_logging
from drytorch.trackers.logging import INFO_LEVELS, BuiltinLogger
from drytorch.utils import environment
from drytorch_nb import _extension, _output
from drytorch_nb.panel import NotebookPanel


@pytest.fixture(autouse=True)
def _fresh_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_output, '_settings', _output._Settings())
    monkeypatch.setattr(environment, '_mute_tokens', [])


@pytest.fixture
def as_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment sees a Jupyter kernel (the shell is in-process)."""
    monkeypatch.setattr(environment, 'frontend', lambda: 'jupyter')


@pytest.fixture
def shell(tmp_path, monkeypatch):
    monkeypatch.setenv('IPYTHONDIR', str(tmp_path / 'ipython'))
    config = TraitletsConfig()
    config.HistoryManager.hist_file = ':memory:'
    config.InteractiveShell.colors = 'nocolor'
    shell = InteractiveShell.instance(config=config)
    yield shell
    drytorch_nb.unload_ipython_extension(shell)
    shell.extension_manager.loaded.discard('drytorch_nb')
    InteractiveShell.clear_instance()


def _panel(shell: InteractiveShell) -> NotebookPanel:
    panel = _extension.installed_panel(shell)
    assert isinstance(panel, NotebookPanel)
    return panel


def _start_event() -> events.StartRunEvent:
    return events.StartRunEvent(
        None, 'Exp', datetime.datetime(2026, 1, 1), 'r1'
    )


def test_loading_in_a_kernel_hands_the_cells_to_the_panel(
    shell, as_kernel
) -> None:
    handlers = list(dt_logging.logger.handlers)
    shell.run_line_magic('load_ext', 'drytorch_nb')
    assert environment.cell_output_muted()
    added = [h for h in dt_logging.logger.handlers if h not in handlers]
    assert [type(h) for h in added] == [_output.PanelLogHandler]

    shell.run_line_magic('unload_ext', 'drytorch_nb')
    assert not environment.cell_output_muted()
    assert dt_logging.logger.handlers == handlers  # exactly as before


def test_reload_keeps_one_handler(shell, as_kernel) -> None:
    shell.run_line_magic('load_ext', 'drytorch_nb')
    for _ in range(3):
        shell.run_line_magic('reload_ext', 'drytorch_nb')
    forwarding = [
        h
        for h in dt_logging.logger.handlers
        if isinstance(h, _output.PanelLogHandler)
    ]
    assert len(forwarding) == 1
    assert forwarding[0].add_line == _panel(shell).add_log_line


def test_terminal_ipython_changes_nothing(shell) -> None:
    handlers = list(dt_logging.logger.handlers)
    shell.run_line_magic('load_ext', 'drytorch_nb')
    assert not environment.cell_output_muted()
    assert dt_logging.logger.handlers == handlers


def test_other_records_reach_the_panels_log(
    shell, as_kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell.run_line_magic('load_ext', 'drytorch_nb')
    panel = _panel(shell)
    panel.stream = io.StringIO()
    dt_logging.set_verbosity(INFO_LEVELS.internal)
    panel.notify(_start_event())  # text mode: not a real kernel
    state = panel._state
    assert state is not None

    dt_logging.logger.warning('clipping %s gradients', 'huge')
    logging.getLogger('drytorch.hooks').info('child\nlogger')
    BuiltinLogger().notify(_start_event())  # the panel has its own line
    try:
        raise ValueError('bad value')
    except ValueError:
        dt_logging.logger.exception('step failed')

    assert list(state.log) == [
        'Run r1 of Exp started',
        'WARNING: clipping huge gradients',
        'INFO: child\\nlogger',
        'ERROR: step failed (ValueError: bad value)',
    ]


def test_switch_brings_the_text_back_and_hides_it_again(
    shell, as_kernel
) -> None:
    handlers = list(dt_logging.logger.handlers)
    shell.run_line_magic('load_ext', 'drytorch_nb')
    assert drytorch_nb.terminal_output() is False

    assert drytorch_nb.terminal_output(True) is True
    assert not environment.cell_output_muted()
    assert dt_logging.logger.handlers == handlers

    assert drytorch_nb.terminal_output(False) is False
    assert environment.cell_output_muted()

    drytorch_nb.terminal_output(True)
    shell.run_line_magic('unload_ext', 'drytorch_nb')
    shell.run_line_magic('load_ext', 'drytorch_nb')  # the setting is kept
    assert not environment.cell_output_muted()
    assert dt_logging.logger.handlers == handlers


def test_switch_rejects_what_is_not_a_bool() -> None:
    with pytest.raises(TypeError, match=r"bool or None, got 'yes'"):
        drytorch_nb.terminal_output('yes')  # type: ignore[arg-type]
    assert drytorch_nb.terminal_output() is False


def test_add_log_line_in_live_and_text_panels() -> None:
    out = io.StringIO()
    panel = NotebookPanel(mode='text', stream=out)
    panel.add_log_line('between runs')  # no run: printed, not lost
    panel.notify(_start_event())
    panel.add_log_line('a\rb')
    state = panel._state
    assert state is not None
    assert list(state.log)[-1] == 'a\\rb'
    assert out.getvalue().splitlines() == [
        'between runs',
        'Run r1 of Exp started',
        'a\\rb',
    ]
    with pytest.raises(TypeError, match='Expected the log line to be a str'):
        panel.add_log_line(3)  # type: ignore[arg-type]


def test_a_failing_panel_does_not_break_the_caller(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(text: str) -> None:
        raise RuntimeError('panel gone')

    handler = _output.PanelLogHandler(broken)
    dt_logging.logger.addHandler(handler)
    try:
        dt_logging.logger.warning('still fine')  # does not raise
    finally:
        dt_logging.logger.removeHandler(handler)
    assert 'RuntimeError: panel gone' in capsys.readouterr().err
