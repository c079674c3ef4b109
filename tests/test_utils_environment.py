"""Tests of drytorch.utils.environment: one decision about where code runs."""

from __future__ import annotations

import io
import subprocess
import sys
import types

import fake_kernel
import pytest

from drytorch.utils import environment
from drytorch_nb import _env


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, 'google.colab', raising=False)
    monkeypatch.delenv('VSCODE_PID', raising=False)
    monkeypatch.delenv('VSCODE_CWD', raising=False)
    monkeypatch.setattr(environment, '_mute_tokens', [])


def _colab(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType('google.colab')
    monkeypatch.setitem(sys.modules, 'google.colab', module)


def test_plain_python_is_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, 'IPython', raising=False)
    assert environment.ipython_shell() is None
    assert environment.frontend() == 'terminal'
    assert not environment.in_kernel()
    assert not environment.widgets_usable()


def test_ipython_imported_without_a_shell_is_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_kernel.install(monkeypatch, None)
    assert environment.frontend() == 'terminal'


def test_terminal_ipython_is_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_kernel.install(monkeypatch, fake_kernel.TerminalInteractiveShell())
    assert environment.frontend() == 'terminal'
    _colab(monkeypatch)  # Colab's module alone does not make a kernel
    monkeypatch.setenv('VSCODE_PID', '1')
    assert environment.frontend() == 'terminal'
    assert not environment.in_kernel()


def test_kernel_is_jupyter(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_kernel.install(monkeypatch, fake_kernel.ZMQInteractiveShell())
    assert environment.frontend() == 'jupyter'
    assert environment.in_kernel()


def test_colab_shell_subclass_is_a_kernel_in_colab(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_kernel.install(monkeypatch, fake_kernel.ColabShell())
    _colab(monkeypatch)
    assert environment.is_colab()
    assert environment.frontend() == 'colab'
    monkeypatch.setenv('VSCODE_PID', '1')  # Colab wins: it is the frontend
    assert environment.frontend() == 'colab'


@pytest.mark.parametrize('variable', ['VSCODE_PID', 'VSCODE_CWD'])
def test_kernel_started_by_vscode(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    fake_kernel.install(monkeypatch, fake_kernel.ZMQInteractiveShell())
    monkeypatch.setenv(variable, '1234')
    assert environment.is_vscode()
    assert environment.frontend() == 'vscode'


def test_every_frontend_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {environment.frontend()}
    fake_kernel.install(monkeypatch, fake_kernel.ZMQInteractiveShell())
    seen.add(environment.frontend())
    monkeypatch.setenv('VSCODE_PID', '1')
    seen.add(environment.frontend())
    _colab(monkeypatch)
    seen.add(environment.frontend())
    assert seen == set(environment.FRONTENDS)


def test_widgets_usable_needs_a_kernel_and_a_supported_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    widgets = types.ModuleType('ipywidgets')
    widgets.__version__ = '8.1.2'  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, 'ipywidgets', widgets)
    assert not environment.widgets_usable()  # no kernel
    fake_kernel.install(monkeypatch, fake_kernel.ZMQInteractiveShell())
    assert environment.widgets_version() == (8, 1, 2)
    assert environment.widgets_usable()
    widgets.__version__ = '9.0.1'  # type: ignore[attr-defined]
    assert environment.widgets_version() == (9, 0, 1)
    assert not environment.widgets_usable()
    widgets.__version__ = '7.5.1'  # type: ignore[attr-defined]
    assert not environment.widgets_usable()
    widgets.__version__ = '7.7.5rc1'  # type: ignore[attr-defined]
    assert environment.widgets_version() == (7, 7, 5)
    assert environment.widgets_usable()
    monkeypatch.setitem(sys.modules, 'ipywidgets', None)  # import fails
    assert environment.widgets_version() is None
    assert not environment.widgets_usable()


def test_only_a_kernels_own_streams_write_to_cells(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = fake_kernel.OutStream()
    assert not environment.writes_to_cell(stream)  # not in a kernel
    fake_kernel.install(monkeypatch, fake_kernel.ZMQInteractiveShell())
    assert environment.writes_to_cell(stream)
    assert not environment.writes_to_cell(io.StringIO())
    assert not environment.writes_to_cell(sys.__stderr__)
    assert not environment.writes_to_cell(object())


def test_mutes_nest_and_count_each_token_once() -> None:
    first, second = object(), object()
    assert not environment.cell_output_muted()
    environment.mute_cell_output(first)
    environment.mute_cell_output(first)
    environment.mute_cell_output(second)
    environment.unmute_cell_output(first)
    assert environment.cell_output_muted()  # second still mutes
    environment.unmute_cell_output(second)
    assert not environment.cell_output_muted()
    environment.unmute_cell_output(second)  # unmuting again is harmless
    assert not environment.cell_output_muted()


def test_notebook_extension_asks_the_same_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    widgets = types.ModuleType('ipywidgets')
    widgets.__version__ = '8.1.2'  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, 'ipywidgets', widgets)
    fake_kernel.install(monkeypatch, fake_kernel.ZMQInteractiveShell())
    monkeypatch.setenv('VSCODE_PID', '1')
    assert _env.frontend() == environment.frontend() == 'vscode'
    assert _env.in_kernel() and _env.widgets_usable()
    assert _env.ipython_shell() is environment.ipython_shell()


def test_import_loads_no_ipython() -> None:
    code = (
        'import sys\n'
        'from drytorch.utils import environment\n'
        'assert environment.frontend() == "terminal"\n'
        'assert not environment.writes_to_cell(sys.stderr)\n'
        'for name in ("IPython", "ipykernel", "ipywidgets"):\n'
        '    assert name not in sys.modules, name\n'
    )
    subprocess.run([sys.executable, '-c', code], check=True, timeout=60)
