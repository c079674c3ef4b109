"""Where the code runs, and who shows a run inside a notebook cell.

:func:`frontend` is the one place that decides whether the code runs in a
Jupyter kernel and, if so, which frontend draws its outputs: ``'colab'``,
``'vscode'``, ``'jupyter'`` (JupyterLab, Notebook, nbclient and any other
frontend of a plain kernel) or ``'terminal'`` (plain Python and terminal
IPython). Everything else here derives from it: :func:`in_kernel`,
:func:`widgets_usable`, :func:`writes_to_cell`. The checks are cheap looks
at modules that are already imported and at the environment: nothing here
imports IPython or ipykernel (ipywidgets only when :func:`widgets_version`
is called), and nothing changes the environment.

Inside a kernel, the default trackers write into the output of the running
cell. A richer display (the ``drytorch_nb`` panel) can take that place with
:func:`mute_cell_output`; the default trackers then write nothing into cells
until the matching :func:`unmute_cell_output`. Outputs that go elsewhere (a
terminal, a file) are never muted.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any, Literal

__all__ = [
    'FRONTENDS',
    'MAX_WIDGETS_VERSION',
    'MIN_WIDGETS_VERSION',
    'Frontend',
    'cell_output_muted',
    'frontend',
    'in_kernel',
    'ipython_shell',
    'is_colab',
    'is_vscode',
    'mute_cell_output',
    'unmute_cell_output',
    'widgets_usable',
    'widgets_version',
    'writes_to_cell',
]

Frontend = Literal['jupyter', 'colab', 'vscode', 'terminal']

FRONTENDS: tuple[Frontend, ...] = ('jupyter', 'colab', 'vscode', 'terminal')
"""Every value :func:`frontend` can return."""

MIN_WIDGETS_VERSION = (7, 6)
"""Oldest supported ipywidgets release (Colab ships 7.7)."""

MAX_WIDGETS_VERSION = (9, 0)
"""First ipywidgets release that is not supported."""

_KERNEL_SHELL = 'ZMQInteractiveShell'
_KERNEL_STREAM_MODULE = 'ipykernel'
_VSCODE_VARIABLES = ('VSCODE_PID', 'VSCODE_CWD')

_mute_tokens: list[object] = []


def ipython_shell() -> Any:
    """The running IPython shell, or None (no IPython, or none running)."""
    module = sys.modules.get('IPython')
    if module is None:
        return None  # a running shell implies that its host imported IPython
    get_ipython = getattr(module, 'get_ipython', None)
    return None if get_ipython is None else get_ipython()


def is_colab() -> bool:
    """Whether Google Colab's runtime is loaded (its kernel imports it)."""
    return 'google.colab' in sys.modules


def is_vscode() -> bool:
    """Whether the process was started by VS Code (its Jupyter extension)."""
    return any(name in os.environ for name in _VSCODE_VARIABLES)


def _kernel_shell(shell: Any) -> bool:
    # Comparing class names avoids importing ipykernel; Colab's shell and
    # VS Code's kernels subclass ipykernel's shell.
    return any(
        klass.__name__ == _KERNEL_SHELL for klass in type(shell).__mro__
    )


def frontend() -> Frontend:
    """Decide where outputs are drawn: one of :data:`FRONTENDS`.

    A Jupyter kernel is an IPython shell of ipykernel's class (or of a
    subclass); its frontend is Colab when Colab's runtime is loaded, VS Code
    when VS Code started the process, and Jupyter otherwise. Plain Python
    and terminal IPython are ``'terminal'``.
    """
    shell = ipython_shell()
    if shell is None or not _kernel_shell(shell):
        return 'terminal'
    if is_colab():
        return 'colab'
    if is_vscode():
        return 'vscode'
    return 'jupyter'


def in_kernel() -> bool:
    """Whether the code runs in a Jupyter kernel (any frontend)."""
    return frontend() != 'terminal'


def widgets_version() -> tuple[int, ...] | None:
    """The installed ipywidgets version, or None if it cannot be imported."""
    try:
        module = importlib.import_module('ipywidgets')
    except ImportError:
        return None
    parts: list[int] = []
    for piece in str(getattr(module, '__version__', '0')).split('.')[:3]:
        # the leading digits only: '5rc1' is release 5, not 51
        digits = re.match(r'\d*', piece)
        parts.append(int(digits.group()) if digits and digits.group() else 0)
    return tuple(parts)


def widgets_usable() -> bool:
    """Whether live widgets can be shown: a kernel and ipywidgets 7.6-8."""
    if not in_kernel():
        return False
    version = widgets_version()
    if version is None:
        return False
    return MIN_WIDGETS_VERSION <= version[:2] < MAX_WIDGETS_VERSION


def writes_to_cell(stream: object) -> bool:
    """Whether text written to the stream lands in a notebook cell's output.

    True for the kernel's own ``stdout`` and ``stderr`` replacements while
    the code runs in a kernel; false for terminals, files, buffers and the
    process's original streams.

    Args:
        stream: a writable text stream.
    """
    module = type(stream).__module__
    if not module.startswith(_KERNEL_STREAM_MODULE):
        return False
    return in_kernel()


def mute_cell_output(token: object) -> None:
    """Keep the default trackers from writing into notebook cells.

    Muting nests: output comes back when every token was unmuted. Muting
    twice with the same token counts once.

    Args:
        token: identifies who muted (e.g. the display that takes over).
    """
    if not any(held is token for held in _mute_tokens):
        _mute_tokens.append(token)


def unmute_cell_output(token: object) -> None:
    """Withdraw the token's mute; nothing happens if it did not mute.

    Args:
        token: the object passed to :func:`mute_cell_output`.
    """
    _mute_tokens[:] = [held for held in _mute_tokens if held is not token]


def cell_output_muted() -> bool:
    """Whether something muted the default trackers' cell output."""
    return bool(_mute_tokens)
