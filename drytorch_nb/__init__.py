"""drytorch_nb: start, stop and inspect drytorch runs from a notebook.

Load it with ``%load_ext drytorch_nb``. EXPERIMENT is the name of a
variable holding an Experiment; without it, the most recently created one.

| magic | what it does |
|-------|--------------|
| ``%drytorch_start [EXPERIMENT] [--resume [RUN_ID]] [--run-id ID]`` | start (or resume) a run that stays active across cells |
| ``%drytorch_stop`` | stop the active run, recorded ``completed`` |
| ``%%drytorch [EXPERIMENT] [--resume [RUN_ID]] [--run-id ID]`` | run the cell in a run: ``failed`` if it raises, else ``completed`` |
| ``%drytorch_status`` | the active run, its experiment, config, models and actors |
| ``%drytorch_runs [EXPERIMENT] [--status S] [--last N]`` | the recorded runs with epochs, duration and final metrics |
| ``%drytorch_compare [EXPERIMENT ...] [--runs ID ...] [--all]`` | runs side by side: differing config, final and best metrics, learning curves |

Starting a run while one is active is refused, with nothing changed. When
the kernel shuts down, drytorch's own exit hook records the active run
``completed`` within milliseconds, before telling its trackers; when it is
killed, the next process that reads the registry
records the run ``interrupted``. Loading twice does nothing more,
``%reload_ext`` leaves no duplicates, ``%unload_ext`` removes everything it
added. The functions below do what the magics do, without IPython.

While the extension is loaded, the panel is where a run is shown: the
default logger and progress bars write nothing into cell outputs, and other
messages of the ``'drytorch'`` logger (warnings, your own) appear in the
panel's Log. ``drytorch_nb.terminal_output(True)`` brings the text back
into the cells, ``terminal_output(False)`` hides it again, and
``terminal_output()`` tells which is in force; ``%unload_ext drytorch_nb``
restores the output as it was before loading.
"""  # noqa: E501

from __future__ import annotations

from typing import Any

from drytorch_nb import _extension
from drytorch_nb._commands import (
    active_run,
    cell_run,
    list_runs,
    start_run,
    status,
    stop_run,
)
from drytorch_nb._compare import compare_runs
from drytorch_nb._output import terminal_output

__all__ = [
    'active_run',
    'cell_run',
    'compare_runs',
    'list_runs',
    'load_ipython_extension',
    'start_run',
    'status',
    'stop_run',
    'terminal_output',
    'unload_ipython_extension',
]


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics, the cell callback and the panel (``%load_ext``).

    Args:
        ipython: the IPython shell.
    """
    _extension.load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove everything the extension added (``%unload_ext``).

    Args:
        ipython: the IPython shell.
    """
    _extension.unload(ipython)
