"""Stop the active run when the interpreter exits.

Installed when the first run starts, never at import. At a normal exit the
active run is recorded ``completed``; after an uncaught exception,
``failed``; after an uncaught KeyboardInterrupt, ``interrupted``. A process
that is killed outright runs no hook: the registry then finds the run's
process dead at its next access and records it ``interrupted``.
"""

from __future__ import annotations

import atexit
import sys
import types

from drytorch.core import scope
from drytorch.core.registry import RunStatus

__all__ = ['install']

_state: dict[str, object] = {'installed': False, 'uncaught': None}


def install() -> None:
    """Register the exit hook and the uncaught-exception hook, once."""
    if _state['installed']:
        return
    _state['installed'] = True
    atexit.register(stop_active_run)
    previous = sys.excepthook

    def _excepthook(
        exc_type: type[BaseException],
        exc: BaseException,
        tb: types.TracebackType | None,
    ) -> None:
        _state['uncaught'] = exc_type
        previous(exc_type, exc, tb)

    sys.excepthook = _excepthook


def stop_active_run() -> None:
    """Stop the active run, if any, recording how the process ended."""
    run = scope.active_run()
    if run is None or not run.is_active():
        return
    uncaught = _state['uncaught']
    status: RunStatus
    if uncaught is None:
        status = 'completed'
    elif isinstance(uncaught, type) and issubclass(
        uncaught, KeyboardInterrupt
    ):
        status = 'interrupted'
    else:
        status = 'failed'
    run.finish(status)
