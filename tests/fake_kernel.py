"""Stand-ins for IPython in a Jupyter kernel, for unit tests.

A real kernel is tested in tests/test_nb_outputs.py; these fakes let unit
tests decide what :mod:`drytorch.utils.environment` sees (which shell runs,
which stream is a kernel's) and record what would be displayed.
"""

from __future__ import annotations

import dataclasses
import io
import sys
import types
from typing import Any

import pytest


class ZMQInteractiveShell:
    """Named like ipykernel's shell (what the environment looks for)."""

    execution_count = 1


class ColabShell(ZMQInteractiveShell):
    """Colab's shell subclasses ipykernel's."""


class TerminalInteractiveShell:
    """Named like terminal IPython's shell."""

    execution_count = 1


class OutStream(io.StringIO):
    """A text buffer whose class lives in ipykernel, like a cell's stream."""


OutStream.__module__ = 'ipykernel.iostream'


@dataclasses.dataclass
class Handle:
    """A display handle that keeps every content it was given."""

    contents: list[dict[str, Any]]

    def update(self, obj: dict[str, Any], raw: bool = False) -> None:
        assert raw
        self.contents.append(obj)

    @property
    def last(self) -> dict[str, Any]:
        return self.contents[-1]


@dataclasses.dataclass
class FakeIPython:
    """What the fake ``IPython`` and ``IPython.display`` modules hold."""

    shell: Any
    handles: list[Handle] = dataclasses.field(default_factory=list)

    def display(
        self, obj: dict[str, Any], raw: bool = False, display_id: Any = None
    ) -> Handle:
        assert raw and display_id is True
        handle = Handle([obj])
        self.handles.append(handle)
        return handle


def install(monkeypatch: pytest.MonkeyPatch, shell: Any) -> FakeIPython:
    """Make ``get_ipython()`` return the shell, and record displays.

    Args:
        monkeypatch: restores the real modules afterwards.
        shell: what ``IPython.get_ipython()`` returns (None: no shell).
    """
    fake = FakeIPython(shell)
    ipython = types.ModuleType('IPython')
    ipython.get_ipython = lambda: fake.shell  # type: ignore[attr-defined]
    display = types.ModuleType('IPython.display')
    display.display = fake.display  # type: ignore[attr-defined]
    ipython.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, 'IPython', ipython)
    monkeypatch.setitem(sys.modules, 'IPython.display', display)
    return fake


def install_kernel(monkeypatch: pytest.MonkeyPatch) -> FakeIPython:
    """A Jupyter kernel's shell, outside Colab and VS Code."""
    monkeypatch.delitem(sys.modules, 'google.colab', raising=False)
    monkeypatch.delenv('VSCODE_PID', raising=False)
    monkeypatch.delenv('VSCODE_CWD', raising=False)
    return install(monkeypatch, ZMQInteractiveShell())
