"""The active run of this process, and publication of events to it.

One run is active per process at a time: a notebook starts a run in one
cell and uses it in the next ones, so the active run is process-wide rather
than bound to a thread or a context variable (which IPython may not carry
from one cell to the next). Changes are serialized by a lock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from drytorch.core import exceptions

if TYPE_CHECKING:
    from drytorch.core import log_events
    from drytorch.core.experiment import Run

__all__ = ['active_run', 'publish', 'require_run']

lock = threading.RLock()
_active: list[Run] = []


def active_run() -> Run | None:
    """The active run, or None."""
    return _active[0] if _active else None


def require_run() -> Run:
    """The active run.

    Raises:
        NoActiveExperimentError: if no run is active.
    """
    if not _active:
        raise exceptions.NoActiveExperimentError()
    return _active[0]


def publish(event: log_events.Event) -> None:
    """Hand an event to the active run's trackers.

    Raises:
        AccessOutsideScopeError: if no run is active.
    """
    if not _active:
        raise exceptions.AccessOutsideScopeError()
    _active[0].publish(event)


def enter(run: Run) -> None:
    """Make ``run`` the active run (the caller holds ``lock``).

    Raises:
        NestedScopeError: if another run is active.
    """
    if _active and _active[0] is not run:
        current = _active[0].experiment.name
        raise exceptions.NestedScopeError(current, run.experiment.name)
    _active[:] = [run]


def leave(run: Run) -> None:
    """Clear the active run if it is ``run``."""
    with lock:
        if _active and _active[0] is run:
            _active.clear()
