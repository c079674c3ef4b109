"""Where the code runs: a Jupyter kernel, Colab, VS Code, ipywidgets.

The extension asks the core library's :mod:`drytorch.utils.environment`,
so the panel and the default trackers never disagree about being in a
kernel. The names are re-exported here because the panel looks them up on
this module at call time (tests replace them). Nothing changes the
environment: in particular, Colab's custom widget manager is never enabled
(the panel uses core widgets, which Colab renders natively).
"""

from __future__ import annotations

from drytorch.utils.environment import (
    MAX_WIDGETS_VERSION,
    MIN_WIDGETS_VERSION,
    frontend,
    in_kernel,
    ipython_shell,
    is_colab,
    is_vscode,
    widgets_usable,
    widgets_version,
)

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
