"""Loading and unloading the extension in an IPython shell.

Loading adds, once per shell: one :class:`DrytorchMagics` instance, one
``post_run_cell`` callback and, when :mod:`drytorch_nb.panel` can be
imported, one ``NotebookPanel`` as a default tracker, so every experiment
created afterwards shows it. With the panel, loading also hands the cells
over to it (:mod:`drytorch_nb._output`: the default logger and progress
bars write nothing into cells, other records of the ``'drytorch'`` logger
go to the panel's Log), unless
:func:`~drytorch_nb._output.terminal_output` says otherwise. Unloading
removes exactly these, and puts back a default tracker of the same name
that the panel replaced. Experiments created in between keep their panel
(they are the user's objects), and an active run stays active.

The state lives here, not in the package's ``__init__``, because
``%reload_ext`` re-executes only ``__init__``: after its unload, nothing of
the old state is left, and loading again starts clean.

Nothing here stops a run at kernel shutdown: the core's exit hook
(:mod:`drytorch.core.exit_hooks`, registered again at every run start)
records the active run's final status, then tells the trackers, the panel
included.
"""

from __future__ import annotations

import dataclasses
import importlib
import warnings
import weakref

from IPython.core.interactiveshell import InteractiveShell

import drytorch
from drytorch.core import exceptions, track
from drytorch.core.track import Tracker
from drytorch_nb._magics import DrytorchMagics
from drytorch_nb._namespace import ExperimentWatcher
from drytorch_nb._output import CellOutput, attach, detach

__all__ = ['PANEL_MODULE', 'installed_panel', 'is_loaded', 'load', 'unload']

PANEL_MODULE = 'drytorch_nb.panel'
_CELL_EVENT = 'post_run_cell'


@dataclasses.dataclass
class _Installation:
    """What loading added to one shell."""

    magics: DrytorchMagics
    panel: Tracker | None = None
    panel_name: str = ''
    replaced: Tracker | None = None
    output: CellOutput | None = None


_INSTALLED: weakref.WeakKeyDictionary[InteractiveShell, _Installation] = (
    weakref.WeakKeyDictionary()
)


def _new_panel() -> Tracker | None:
    """A NotebookPanel, or None if its module or a dependency is missing."""
    try:
        module = importlib.import_module(PANEL_MODULE)
    except ModuleNotFoundError as error:
        if error.name != PANEL_MODULE:
            warnings.warn(
                exceptions.FailedOptionalImportWarning(error.name or '?'),
                stacklevel=4,
            )
        return None
    panel = module.NotebookPanel()
    if not isinstance(panel, Tracker):
        msg = f'Expected NotebookPanel to be a Tracker, got {panel!r}.'
        raise TypeError(msg)
    return panel


def is_loaded(shell: InteractiveShell) -> bool:
    """Whether the extension is loaded in the shell."""
    return shell in _INSTALLED


def installed_panel(shell: InteractiveShell) -> Tracker | None:
    """The panel tracker the extension added for the shell, if any."""
    installation = _INSTALLED.get(shell)
    return None if installation is None else installation.panel


def load(shell: InteractiveShell) -> None:
    """Add the magics, the callbacks and the panel; a second load is a no-op.

    Args:
        shell: the IPython shell.
    """
    if shell in _INSTALLED:
        return
    panel = _new_panel()  # first: a failure here leaves nothing behind
    watcher = ExperimentWatcher()
    watcher.scan(shell.user_ns)
    magics = DrytorchMagics(shell, watcher, panel=panel)
    installation = _Installation(magics=magics)
    if panel is not None:
        name = type(panel).__name__
        installation.panel = panel
        installation.panel_name = name
        installation.replaced = track.DEFAULT_TRACKERS.get(name)
        add_line = getattr(panel, 'add_log_line', None)
        if callable(add_line):  # the panel can show what the text said
            installation.output = CellOutput(add_line)
        drytorch.extend_default_trackers([panel])
    shell.register_magics(magics)
    shell.events.register(_CELL_EVENT, magics.after_cell)
    if installation.output is not None:
        attach(installation.output)
    _INSTALLED[shell] = installation


def _unregister_magics(
    shell: InteractiveShell, magics: DrytorchMagics
) -> None:
    manager = shell.magics_manager
    for kind, table in magics.magics.items():
        registered = manager.magics.get(kind, {})
        for name, func in table.items():
            if registered.get(name) == func:
                del registered[name]
    class_name = type(magics).__name__
    if manager.registry.get(class_name) is magics:
        del manager.registry[class_name]


def unload(shell: InteractiveShell) -> None:
    """Remove what :func:`load` added; a no-op if it is not loaded.

    Args:
        shell: the IPython shell.
    """
    installation = _INSTALLED.pop(shell, None)
    if installation is None:
        return
    magics = installation.magics
    if magics.after_cell in shell.events.callbacks[_CELL_EVENT]:
        shell.events.unregister(_CELL_EVENT, magics.after_cell)
    _unregister_magics(shell, magics)
    if installation.output is not None:
        detach(installation.output)
    panel = installation.panel
    name = installation.panel_name
    if panel is not None and track.DEFAULT_TRACKERS.get(name) is panel:
        replaced = installation.replaced
        if replaced is None:
            del track.DEFAULT_TRACKERS[name]
        else:
            track.DEFAULT_TRACKERS[name] = replaced
