"""Where the code runs: a Jupyter kernel, Colab, VS Code, ipywidgets.

Every check is a cheap look at already-imported modules or the environment;
nothing here imports ipywidgets or IPython unless asked to, and nothing
changes the environment (in particular, Colab's custom widget manager is
never enabled: the panel uses core widgets, which Colab renders natively).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

__all__ = [
    'MAX_WIDGETS_VERSION',
    'MIN_WIDGETS_VERSION',
    'frontend',
    'in_kernel',
    'ipython_shell',
    'is_colab',
    'is_vscode',
    'widgets_usable',
    'widgets_version',
]

MIN_WIDGETS_VERSION = (7, 6)
"""Oldest supported ipywidgets release (Colab ships 7.7)."""

MAX_WIDGETS_VERSION = (9, 0)
"""First ipywidgets release that is not supported."""


def ipython_shell() -> Any:
    """The running IPython shell, or None (no IPython, or none running)."""
    module = sys.modules.get('IPython')
    if module is None:
        return None  # a shell implies IPython was imported by its host
    get_ipython = getattr(module, 'get_ipython', None)
    return None if get_ipython is None else get_ipython()


def in_kernel() -> bool:
    """Whether the code runs in a Jupyter kernel (one with a frontend).

    Terminal IPython and plain Python have no frontend to draw widgets.
    """
    shell = ipython_shell()
    if shell is None:
        return False
    # Comparing names avoids importing ipykernel; Colab's shell subclasses it.
    return any(
        klass.__name__ == 'ZMQInteractiveShell'
        for klass in type(shell).__mro__
    )


def is_colab() -> bool:
    """Whether the kernel is a Google Colab one."""
    return 'google.colab' in sys.modules


def is_vscode() -> bool:
    """Whether the kernel was started by VS Code's Jupyter extension."""
    return 'VSCODE_PID' in os.environ or 'VSCODE_CWD' in os.environ


def frontend() -> str:
    """A name for the environment: colab, vscode, jupyter or terminal."""
    if not in_kernel():
        return 'terminal'
    if is_colab():
        return 'colab'
    if is_vscode():
        return 'vscode'
    return 'jupyter'


def widgets_version() -> tuple[int, ...] | None:
    """The installed ipywidgets version, or None if it cannot be imported."""
    try:
        module = importlib.import_module('ipywidgets')
    except ImportError:
        return None
    parts: list[int] = []
    for piece in str(getattr(module, '__version__', '0')).split('.')[:3]:
        digits = ''.join(char for char in piece if char.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def widgets_usable() -> bool:
    """Whether live widgets can be shown: a kernel and ipywidgets 7.6-8."""
    if not in_kernel():
        return False
    version = widgets_version()
    if version is None:
        return False
    return MIN_WIDGETS_VERSION <= version[:2] < MAX_WIDGETS_VERSION
