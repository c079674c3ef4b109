"""The notebook extension in a real, in-process IPython shell.

Magics, their messages and refusals, the run statuses they record, the
HTML/text output, and the extension lifecycle (load, reload, unload leave
no duplicate callbacks behind).
"""

from __future__ import annotations

import atexit
import dataclasses
import sys
import types

import pytest
from conftest import Config, RecordingTracker
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from torch import nn
from traitlets.config import Config as TraitletsConfig

import drytorch_nb
from drytorch import Experiment, Model
from drytorch.core import events, exceptions, exit_hooks, register, track
from drytorch.core.track import Tracker
from drytorch.lib.runners import ModelRunner
from drytorch_nb import _display, _extension
from drytorch_nb._namespace import ExperimentWatcher

XSS = '<img src=x onerror=alert(1)>'
XSS_ESCAPED = '&lt;img src=x onerror=alert(1)&gt;'
LINE_MAGICS = (
    'drytorch_start',
    'drytorch_stop',
    'drytorch_status',
    'drytorch_runs',
    'drytorch_compare',
)


@pytest.fixture
def shell(tmp_path, monkeypatch):
    monkeypatch.setenv('IPYTHONDIR', str(tmp_path / 'ipython'))
    config = TraitletsConfig()
    config.HistoryManager.hist_file = ':memory:'
    config.InteractiveShell.colors = 'nocolor'
    shell = InteractiveShell.instance(config=config)
    shell.push({'Experiment': Experiment, 'Config': Config})
    yield shell
    drytorch_nb.unload_ipython_extension(shell)
    shell.extension_manager.loaded.discard('drytorch_nb')
    InteractiveShell.clear_instance()


class OtherExitCallback:
    """An atexit callback of someone else (a tracker's library)."""

    def __call__(self) -> None:
        pass


def _recorded(func: object) -> bool:
    return func is exit_hooks.stop_active_run or isinstance(
        func, OtherExitCallback
    )


@pytest.fixture(autouse=True)
def exit_callbacks(monkeypatch):
    # atexit cannot list its callbacks: record the core's exit hook and
    # OtherExitCallbacks instead of registering them (others, e.g. from
    # imports, are registered); the last one runs first at exit
    hooks: list[object] = []
    real_register, real_unregister = atexit.register, atexit.unregister

    def fake_register(func, *args, **kwargs):
        if _recorded(func):
            hooks.append(func)
            return func
        return real_register(func, *args, **kwargs)

    def fake_unregister(func):
        if _recorded(func):
            hooks[:] = [hook for hook in hooks if hook is not func]
            return
        real_unregister(func)

    monkeypatch.setattr(atexit, 'register', fake_register)
    monkeypatch.setattr(atexit, 'unregister', fake_unregister)
    return hooks


@pytest.fixture
def no_panel(monkeypatch):
    """The extension as if drytorch_nb.panel did not exist."""
    monkeypatch.setattr(_extension, 'PANEL_MODULE', 'drytorch_nb.no_panel')


@pytest.fixture
def loaded(shell, no_panel):
    shell.run_line_magic('load_ext', 'drytorch_nb')
    return shell


@pytest.fixture
def exp(loaded):
    experiment = Experiment(Config(), name='E')
    loaded.push({'exp': experiment})
    return experiment


def statuses(experiment: Experiment) -> dict[str, str]:
    return {r.id: r.status for r in experiment.registry.load_all()}


def counts(
    shell: InteractiveShell, exit_callbacks: list[object]
) -> dict[str, int]:
    return {
        'post_run_cell': len(shell.events.callbacks['post_run_cell']),
        'line': len(shell.magics_manager.magics['line']),
        'cell': len(shell.magics_manager.magics['cell']),
        'registered': 'DrytorchMagics' in shell.magics_manager.registry,
        'exit_hooks': len(exit_callbacks),
        'defaults': len(track.DEFAULT_TRACKERS),
    }


def displayed(shell: InteractiveShell, line: str) -> dict[str, str]:
    """The mime bundle a line magic displays."""
    with capture_output() as captured:
        shell.run_line_magic(*line.split(' ', 1))
    (output,) = captured.outputs
    return output.data


# start / stop / resume


def test_start_and_stop_record_the_run(loaded, exp, capsys) -> None:
    loaded.run_line_magic('drytorch_start', '--run-id r1')
    assert 'Started run r1 of experiment E' in capsys.readouterr().out
    assert drytorch_nb.active_run() is exp.run
    assert statuses(exp) == {'r1': 'running'}

    loaded.run_line_magic('drytorch_stop', '')
    assert 'Stopped run r1 of experiment E (completed)' in (
        capsys.readouterr().out
    )
    assert drytorch_nb.active_run() is None
    assert statuses(exp) == {'r1': 'completed'}


def test_run_stays_active_across_cells(loaded, exp) -> None:
    loaded.run_cell('%drytorch_start --run-id r1')
    result = loaded.run_cell('seen = Experiment.get_current().run.id')
    assert result.success, result.error_in_exec
    loaded.run_cell('%drytorch_stop')
    assert loaded.user_ns['seen'] == 'r1'


def test_stop_without_active_run_says_so(loaded, capsys) -> None:
    loaded.run_line_magic('drytorch_stop', '')
    assert 'No active run: nothing to stop.' in capsys.readouterr().out


def test_start_while_active_refuses_and_changes_nothing(loaded, exp) -> None:
    loaded.run_line_magic('drytorch_start', '--run-id r1')
    active = exp.run
    other = Experiment(Config(), name='Other')
    loaded.push({'other': other})
    hint = 'Run r1 of experiment E is active: stop it with %drytorch_stop'
    with pytest.raises(UsageError, match=hint):
        loaded.run_line_magic('drytorch_start', '--run-id r2')
    with pytest.raises(UsageError, match=hint):
        loaded.run_line_magic('drytorch_start', 'other')
    with pytest.raises(UsageError, match=hint):
        loaded.run_cell_magic('drytorch', 'exp --resume r1', 'ran = True')
    # no orphan record (a new run is refused before it is created), and
    # the active run goes on (reference defect D03 left it corrupted)
    assert statuses(exp) == {'r1': 'running'}
    assert statuses(other) == {}
    assert exp.run is active
    assert 'ran' not in loaded.user_ns


def test_refusal_in_a_cell_fails_the_cell(loaded, exp) -> None:
    loaded.run_cell('%drytorch_start')
    result = loaded.run_cell('%drytorch_start')
    assert isinstance(result.error_in_exec, UsageError)


def test_resume_last_or_named_run(loaded, exp) -> None:
    loaded.run_line_magic('drytorch_start', '--run-id first')
    loaded.run_line_magic('drytorch_stop', '')
    loaded.run_line_magic('drytorch_start', '--run-id second')
    loaded.run_line_magic('drytorch_stop', '')

    loaded.run_line_magic('drytorch_start', '--resume')
    assert exp.run.id == 'second'
    assert exp.run.resumed
    loaded.run_line_magic('drytorch_stop', '')

    loaded.run_line_magic('drytorch_start', 'exp --resume first')
    assert exp.run.id == 'first'
    loaded.run_line_magic('drytorch_stop', '')

    records = {r.id: r for r in exp.registry.load_all()}
    assert records['first'].n_starts == 2
    assert records['second'].n_starts == 2
    assert statuses(exp) == {'first': 'completed', 'second': 'completed'}


def test_resume_message(loaded, exp, capsys) -> None:
    loaded.run_line_magic('drytorch_start', '--run-id r1')
    loaded.run_line_magic('drytorch_stop', '')
    capsys.readouterr()
    loaded.run_line_magic('drytorch_start', '--resume r1')
    assert 'Resumed run r1 of experiment E' in capsys.readouterr().out


def test_resume_followed_by_experiment_name(loaded, exp) -> None:
    # argparse hands 'exp' to --resume; the magic sees it names a variable
    loaded.run_line_magic('drytorch_start', '--run-id r1')
    loaded.run_line_magic('drytorch_stop', '')
    loaded.run_line_magic('drytorch_start', '--resume exp')
    assert exp.run.id == 'r1'
    assert exp.run.resumed


def test_resume_with_run_id_option(loaded, exp) -> None:
    loaded.run_line_magic('drytorch_start', '--run-id r1')
    loaded.run_line_magic('drytorch_stop', '')
    loaded.run_line_magic('drytorch_start', '--resume --run-id r1')
    assert exp.run.id == 'r1'
    assert exp.run.resumed


def test_conflicting_run_ids_are_refused(loaded, exp) -> None:
    with pytest.raises(UsageError, match='Expected one run id'):
        loaded.run_line_magic('drytorch_start', '--resume a --run-id b')
    assert statuses(exp) == {}


def test_resume_unknown_run_warns_and_starts_it(loaded, exp) -> None:
    with pytest.warns(exceptions.NotExistingRunWarning):
        loaded.run_line_magic('drytorch_start', '--resume ghost')
    assert exp.run.id == 'ghost'
    assert not exp.run.resumed


def test_taken_run_id_is_refused(loaded, exp) -> None:
    loaded.run_line_magic('drytorch_start', '--run-id r1')
    loaded.run_line_magic('drytorch_stop', '')
    with pytest.raises(UsageError, match='r1 is already recorded'):
        loaded.run_line_magic('drytorch_start', '--run-id r1')
    assert drytorch_nb.active_run() is None


def test_invalid_run_id_is_refused(loaded, exp) -> None:
    with pytest.raises(UsageError, match='run id'):
        loaded.run_line_magic('drytorch_start', '--run-id ..')
    assert statuses(exp) == {}


def test_bad_arguments_are_usage_errors(loaded, exp) -> None:
    with pytest.raises(UsageError):
        loaded.run_line_magic('drytorch_start', '--bogus')
    with pytest.raises(UsageError, match='takes no arguments'):
        loaded.run_line_magic('drytorch_stop', 'now')
    with pytest.raises(UsageError, match='takes no arguments'):
        loaded.run_line_magic('drytorch_status', 'exp')


# which experiment


def test_unknown_variable(loaded, exp) -> None:
    with pytest.raises(UsageError, match="'nope', which is not defined"):
        loaded.run_line_magic('drytorch_start', 'nope')


def test_variable_that_is_not_an_experiment(loaded, exp) -> None:
    loaded.push({'number': 3})
    with pytest.raises(UsageError, match="'number' to be an Experiment"):
        loaded.run_line_magic('drytorch_start', 'number')


def test_no_experiment_in_the_notebook(loaded) -> None:
    with pytest.raises(UsageError, match='create one first'):
        loaded.run_line_magic('drytorch_start', '')


def test_default_is_the_most_recently_created(loaded) -> None:
    loaded.run_cell('first = Experiment(Config(), name="First")')
    loaded.run_cell('second = Experiment(Config(), name="Second")')
    loaded.run_line_magic('drytorch_start', '')
    assert drytorch_nb.active_run().experiment.name == 'Second'
    loaded.run_line_magic('drytorch_stop', '')
    # re-running the first cell creates a new experiment, which wins
    loaded.run_cell('first = Experiment(Config(), name="First")')
    loaded.run_line_magic('drytorch_start', '')
    assert drytorch_nb.active_run().experiment.name == 'First'


def test_experiment_created_in_the_starting_cell(loaded) -> None:
    loaded.run_cell('old = Experiment(Config(), name="Old")')
    result = loaded.run_cell(
        'new = Experiment(Config(), name="New")\n%drytorch_start'
    )
    assert result.success, result.error_in_exec
    assert drytorch_nb.active_run().experiment.name == 'New'


def test_experiments_of_one_cell_are_not_guessed(loaded) -> None:
    loaded.run_cell(
        'a = Experiment(Config(), name="A")\n'
        'b = Experiment(Config(), name="B")'
    )
    with pytest.raises(UsageError, match=r'same cell \(a, b\)'):
        loaded.run_line_magic('drytorch_start', '')
    loaded.run_line_magic('drytorch_start', 'b')
    assert drytorch_nb.active_run().experiment.name == 'B'


def test_experiments_existing_before_loading(shell, no_panel) -> None:
    shell.push({'only': Experiment(Config(), name='Only')})
    shell.run_line_magic('load_ext', 'drytorch_nb')
    shell.run_line_magic('drytorch_start', '')
    assert drytorch_nb.active_run().experiment.name == 'Only'


def test_watcher_ignores_private_names_and_forgets_rebound() -> None:
    watcher = ExperimentWatcher()
    first = Experiment(Config(), name='First')
    namespace = {'exp': first, '_': Experiment(Config(), name='Out')}
    assert watcher.latest(namespace) == ('exp', first)
    namespace['exp'] = second = Experiment(Config(), name='Second')
    namespace['keep'] = first
    assert watcher.latest(namespace) == ('exp', second)


class EqualByName(Experiment[Config]):
    """An experiment class that is not hashable."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EqualByName) and other.name == self.name

    __hash__ = None  # type: ignore[assignment]


def test_unhashable_experiments_are_found(loaded) -> None:
    loaded.push({'EqualByName': EqualByName})
    loaded.run_cell('first = EqualByName(Config(), name="Same")')
    loaded.run_cell('second = EqualByName(Config(), name="Same")')
    loaded.run_line_magic('drytorch_start', '')
    assert drytorch_nb.active_run().experiment is loaded.user_ns['second']


# %%drytorch


def test_cell_magic_records_completed_and_returns_last_value(
    loaded, exp
) -> None:
    result = loaded.run_cell(
        '%%drytorch exp --run-id ok\n'
        'inside = Experiment.get_current().run.id\n'
        'inside + "!"'
    )
    assert result.success, result.error_in_exec
    assert result.result == 'ok!'
    assert loaded.user_ns['inside'] == 'ok'
    assert statuses(exp) == {'ok': 'completed'}
    assert drytorch_nb.active_run() is None


def test_failing_cell_records_failed_and_shows_the_error(
    loaded, exp, capsys
) -> None:
    result = loaded.run_cell(
        '%%drytorch --run-id bad\nbefore = 1\nraise ValueError("boom")'
    )
    assert isinstance(result.error_in_exec, ValueError)
    assert str(result.error_in_exec) == 'boom'
    assert statuses(exp) == {'bad': 'failed'}
    assert drytorch_nb.active_run() is None
    assert loaded.user_ns['before'] == 1
    shown = capsys.readouterr().out
    assert 'ValueError' in shown
    assert 'raise ValueError("boom")' in shown  # the cell's source line
    assert 'line 3' in shown  # numbered as in the notebook cell


def test_cell_magic_runs_ipython_syntax(loaded, exp) -> None:
    result = loaded.run_cell(
        '%%drytorch --run-id syntax\nname = %drytorch_status\nvalue = 3'
    )
    assert result.success, result.error_in_exec
    assert loaded.user_ns['value'] == 3


def test_cell_that_stops_its_run_keeps_the_status(loaded, exp) -> None:
    result = loaded.run_cell('%%drytorch --run-id r\n%drytorch_stop')
    assert result.success, result.error_in_exec
    assert statuses(exp) == {'r': 'completed'}


def test_cell_run_interrupted(exp) -> None:
    with (
        pytest.raises(KeyboardInterrupt),
        drytorch_nb.cell_run(exp, run_id='r'),
    ):
        raise KeyboardInterrupt
    assert statuses(exp) == {'r': 'interrupted'}


# plain functions


def test_plain_functions_without_ipython(exp) -> None:
    run = drytorch_nb.start_run(exp, run_id='plain')
    assert drytorch_nb.active_run() is run
    with pytest.raises(exceptions.NestedScopeError):
        drytorch_nb.start_run(exp)
    assert drytorch_nb.stop_run() is run
    assert drytorch_nb.stop_run() is None
    assert run.status == 'completed'
    table = drytorch_nb.list_runs(exp)
    assert table.rows[0][:2] == ('plain', 'completed')


def test_plain_functions_check_the_experiment() -> None:
    with pytest.raises(TypeError, match='Expected an Experiment, got str'):
        drytorch_nb.start_run('exp')  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='Expected an Experiment, got int'):
        drytorch_nb.list_runs(3)  # type: ignore[arg-type]


# %drytorch_status and %drytorch_runs


@pytest.fixture
def xss_exp(loaded):
    experiment = Experiment(Config(), name='X', tags=[XSS])
    loaded.push({'xss_exp': experiment})
    return experiment


def test_status_without_run(loaded, capsys) -> None:
    loaded.run_line_magic('drytorch_status', '')
    out = capsys.readouterr().out
    assert 'No active run. Start one with %drytorch_start' in out
    assert 'Frontend' not in out  # internal: not what a user asks for


@dataclasses.dataclass(frozen=True)
class Shady:
    caption: str = XSS
    lr: float = 0.5
    token: str = dataclasses.field(default='s3cret', repr=False)


def test_status_shows_run_config_models_and_actors(loaded, capsys) -> None:
    experiment = Experiment(Shady(), name='Shady', tags=['t1', XSS])
    loaded.push({'shady': experiment})
    loaded.run_line_magic('drytorch_start', '--run-id r1')
    model = Model(nn.Linear(2, 1), name='net')
    runner = ModelRunner(model, name='runner', loader=[])
    loaded.push({'model': model, 'runner': runner})
    register.register_actor(runner, model)
    capsys.readouterr()

    loaded.run_line_magic('drytorch_status', '')
    text = capsys.readouterr().out
    assert 'Shady' in text
    assert 'r1' in text
    assert "caption  '<img src=x onerror=alert(1)>'" in text
    assert 'lr       0.5' in text
    assert 'token    (hidden: repr=False)' in text
    assert 's3cret' not in text
    assert 'net    runner' in text

    bundle = displayed(loaded, 'drytorch_status ')
    html = bundle['text/html']
    assert XSS_ESCAPED in html
    assert '<img' not in html
    assert 'net' in html
    assert 'runner' in html


def test_runs_table_text_and_escaped_html(loaded, xss_exp, capsys) -> None:
    loaded.run_line_magic('drytorch_start', 'xss_exp --run-id ok')
    loaded.run_line_magic('drytorch_stop', '')
    loaded.run_cell('%%drytorch xss_exp --run-id bad\n1 / 0')
    capsys.readouterr()

    loaded.run_line_magic('drytorch_runs', 'xss_exp')
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'Runs of experiment X'
    assert lines[1].split() == [
        'Run',
        'id',
        'Status',
        'Created',
        'Started',
        'Ended',
        'Commit',
        'Starts',
        'Epochs',
        'Duration',
        'Final',
        'metrics',
    ]
    assert lines[3].split()[:2] == ['ok', 'completed']
    assert lines[4].split()[:2] == ['bad', 'failed']

    bundle = displayed(loaded, 'drytorch_runs xss_exp')
    assert set(bundle) >= {'text/plain', 'text/html'}
    assert '<td style' in bundle['text/html']
    assert '>failed</span></td>' in bundle['text/html']
    assert 'Runs of experiment X' in bundle['text/plain']


def test_runs_default_to_the_active_runs_experiment(loaded, exp) -> None:
    loaded.run_line_magic('drytorch_start', '--run-id mine')
    loaded.push({'later': Experiment(Config(), name='Later')})
    text = displayed(loaded, 'drytorch_runs ')['text/plain']
    assert text.startswith('Runs of experiment E')
    assert 'mine' in text


def test_runs_of_an_experiment_without_runs(loaded, exp) -> None:
    text = displayed(loaded, 'drytorch_runs exp')['text/plain']
    assert 'No runs recorded.' in text


def test_tables_escape_every_value_and_clean_text() -> None:
    table = _display.Table(
        f'title {XSS}', [f'h{XSS}', 'b'], [[XSS, 'a\x1b[2Jb\nc']]
    )
    html = table._repr_html_()
    assert '<img' not in html
    assert html.count(XSS_ESCAPED) == 3
    text = table.to_text()
    assert '\x1b' not in text
    assert '\n' not in text.splitlines()[-1]
    assert 'a\\x1b[2Jb\\nc' in text
    report = _display.Report(XSS, table)
    assert '<img' not in report._repr_html_()
    with pytest.raises(ValueError, match='Expected rows of 2 values, got 1'):
        _display.Table('t', ['a', 'b'], [['only']])


def test_short_repr_survives_broken_and_long_values() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError('no')

    assert 'Broken' in _display.short_repr(Broken())
    assert len(_display.short_repr('x' * 10_000)) < 250


# shutdown: the core's exit hook is the one mechanism


class StatusProbe(Tracker):
    """Reads the run's record when the run stops."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self.seen: list[str] = []

    @track.on(events.StopRunEvent)
    def _stop(self, event: events.StopRunEvent) -> None:
        self.seen.append(self.experiment.registry.get(event.run_id).status)


def test_exit_hook_records_first_then_stops_once(exp) -> None:
    probe = StatusProbe(exp)
    recorder = RecordingTracker()
    exp.trackers.subscribe(probe, recorder)
    drytorch_nb.start_run(exp, run_id='r')
    exit_hooks.stop_active_run()  # what atexit calls at kernel shutdown
    # the trackers were told after the status was on disk
    assert probe.seen == ['completed']
    assert statuses(exp) == {'r': 'completed'}
    assert drytorch_nb.active_run() is None
    exit_hooks.stop_active_run()
    assert len(recorder.of_type(events.StopRunEvent)) == 1


def test_exit_hook_without_run_does_nothing(exp) -> None:
    exit_hooks.stop_active_run()
    assert statuses(exp) == {}


def test_every_run_start_moves_the_exit_hook_last(
    loaded, exp, exit_callbacks
) -> None:
    # a tracker's library registering its own callback after drytorch's
    # would run first at exit, and could delay the status past SIGTERM
    other = OtherExitCallback()
    atexit.register(other)
    loaded.run_line_magic('drytorch_start', '--run-id magic')
    assert exit_callbacks[-1] is exit_hooks.stop_active_run
    loaded.run_line_magic('drytorch_stop', '')
    atexit.unregister(other)
    atexit.register(other)
    loaded.run_cell('run = exp.create_run(run_id="manual")\nrun.start()')
    assert exit_callbacks[-1] is exit_hooks.stop_active_run
    assert exit_callbacks.count(exit_hooks.stop_active_run) == 1
    loaded.run_line_magic('drytorch_stop', '')


# lifecycle


def test_load_registers_magics_callback_and_hook(
    shell, no_panel, exit_callbacks
) -> None:
    before = counts(shell, exit_callbacks)
    shell.run_line_magic('load_ext', 'drytorch_nb')
    after = counts(shell, exit_callbacks)
    assert after['post_run_cell'] == before['post_run_cell'] + 1
    assert after['line'] == before['line'] + len(LINE_MAGICS)
    assert after['cell'] == before['cell'] + 1
    # the core's exit hook stops the run at shutdown: the extension adds
    # no atexit callback of its own
    assert after['exit_hooks'] == before['exit_hooks']
    assert after['registered']
    assert after['defaults'] == before['defaults']  # no panel module
    for name in LINE_MAGICS:
        assert name in shell.magics_manager.magics['line']
    assert 'drytorch' in shell.magics_manager.magics['cell']


def test_load_twice_reload_and_unload(shell, no_panel, exit_callbacks) -> None:
    baseline = counts(shell, exit_callbacks)
    shell.run_line_magic('load_ext', 'drytorch_nb')
    loaded = counts(shell, exit_callbacks)
    first = shell.magics_manager.registry['DrytorchMagics']

    shell.run_line_magic('load_ext', 'drytorch_nb')
    drytorch_nb.load_ipython_extension(shell)
    assert counts(shell, exit_callbacks) == loaded

    for _ in range(3):
        shell.run_line_magic('reload_ext', 'drytorch_nb')
        assert counts(shell, exit_callbacks) == loaded
    current = shell.magics_manager.registry['DrytorchMagics']
    assert current is not first
    callbacks = shell.events.callbacks['post_run_cell']
    assert current.after_cell in callbacks
    assert first.after_cell not in callbacks

    shell.run_line_magic('unload_ext', 'drytorch_nb')
    assert counts(shell, exit_callbacks) == baseline
    assert 'DrytorchMagics' not in shell.magics_manager.registry
    with pytest.raises(UsageError, match='not found'):
        shell.run_line_magic('drytorch_start', '')
    result = shell.run_cell('%%drytorch\nx = 1')
    assert result.error_in_exec is not None or result.error_before_exec
    drytorch_nb.unload_ipython_extension(shell)  # a second unload: no-op
    assert counts(shell, exit_callbacks) == baseline


def test_magics_work_after_reload(shell, no_panel) -> None:
    shell.run_line_magic('load_ext', 'drytorch_nb')
    shell.run_line_magic('reload_ext', 'drytorch_nb')
    experiment = Experiment(Config(), name='E')
    shell.push({'exp': experiment})
    shell.run_cell('%drytorch_start --run-id r')
    shell.run_cell('%drytorch_stop')
    assert statuses(experiment) == {'r': 'completed'}


def test_unload_leaves_the_active_run_active(loaded, exp) -> None:
    loaded.run_line_magic('drytorch_start', '--run-id r')
    loaded.run_line_magic('unload_ext', 'drytorch_nb')
    assert drytorch_nb.active_run() is exp.run
    assert statuses(exp) == {'r': 'running'}


def _install_panel_module(monkeypatch) -> type[Tracker]:
    """Stand in for drytorch_nb.panel (another module's job)."""

    class NotebookPanel(Tracker):
        pass

    module = types.ModuleType('drytorch_nb.panel')
    module.NotebookPanel = NotebookPanel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, 'drytorch_nb.panel', module)
    return NotebookPanel


def test_panel_is_one_default_tracker_and_is_restored(
    shell, monkeypatch, exit_callbacks
) -> None:
    panel_class = _install_panel_module(monkeypatch)
    earlier = panel_class()
    track.DEFAULT_TRACKERS['NotebookPanel'] = earlier
    baseline = counts(shell, exit_callbacks)

    shell.run_line_magic('load_ext', 'drytorch_nb')
    panel = _extension.installed_panel(shell)
    assert isinstance(panel, panel_class)
    assert panel is not earlier
    assert track.DEFAULT_TRACKERS['NotebookPanel'] is panel
    assert counts(shell, exit_callbacks)['defaults'] == baseline['defaults']
    experiment = Experiment(Config(), name='E')
    assert experiment.trackers.named_trackers['NotebookPanel'] is panel

    shell.run_line_magic('reload_ext', 'drytorch_nb')
    reloaded = _extension.installed_panel(shell)
    assert track.DEFAULT_TRACKERS['NotebookPanel'] is reloaded
    assert list(track.DEFAULT_TRACKERS).count('NotebookPanel') == 1

    shell.run_line_magic('unload_ext', 'drytorch_nb')
    assert track.DEFAULT_TRACKERS['NotebookPanel'] is earlier
    assert counts(shell, exit_callbacks) == baseline


def test_panel_added_when_no_default_had_its_name(shell, monkeypatch) -> None:
    panel_class = _install_panel_module(monkeypatch)
    shell.run_line_magic('load_ext', 'drytorch_nb')
    assert isinstance(track.DEFAULT_TRACKERS['NotebookPanel'], panel_class)
    shell.run_line_magic('unload_ext', 'drytorch_nb')
    assert 'NotebookPanel' not in track.DEFAULT_TRACKERS


def test_panel_replaced_by_the_user_is_left_alone(shell, monkeypatch) -> None:
    panel_class = _install_panel_module(monkeypatch)
    shell.run_line_magic('load_ext', 'drytorch_nb')
    mine = panel_class()
    track.DEFAULT_TRACKERS['NotebookPanel'] = mine
    shell.run_line_magic('unload_ext', 'drytorch_nb')
    assert track.DEFAULT_TRACKERS['NotebookPanel'] is mine


def test_panel_with_missing_dependency_warns(
    shell, monkeypatch, tmp_path
) -> None:
    (tmp_path / 'panel_needing_a_package.py').write_text(
        'import package_that_is_not_installed\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_extension, 'PANEL_MODULE', 'panel_needing_a_package')
    with pytest.warns(
        exceptions.FailedOptionalImportWarning,
        match='package_that_is_not_installed',
    ):
        shell.run_line_magic('load_ext', 'drytorch_nb')
    assert _extension.installed_panel(shell) is None
    assert 'drytorch_start' in shell.magics_manager.magics['line']
