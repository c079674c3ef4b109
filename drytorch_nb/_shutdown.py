"""Stopping the active run when the kernel shuts down.

On a shutdown request the kernel stops its loops and the interpreter exits,
running the atexit callbacks, last registered first; about 2.5 s after the
request the kernel manager sends SIGTERM, which skips whatever is left.

drytorch's core already registers an atexit callback (at the first run
start) that stops the active run. It stops it by notifying the trackers
first and writing the registry last, so a tracker slow to close (a panel
snapshot, a large metadata dump) could let SIGTERM arrive before the status
is written. This hook closes that gap: it writes the final status to the
registry first (a few milliseconds), then stops the run, which notifies
the trackers and writes the same status again. It is kept the most
recently registered callback (re-registered after each run start), so it
runs before the core's; the core's then finds no active run and does
nothing, and a run is never stopped twice. A kernel killed outright runs
no callback at all: the registry then finds the run's process dead at its
next access, in any process, and records it ``interrupted``.
"""

from __future__ import annotations

import atexit
import sys

from drytorch.core.experiment import RunStatus
from drytorch_nb import _commands

__all__ = ['ShutdownHook']


class ShutdownHook:
    """An atexit callback that stops the active run, recording it first.

    Attributes:
        status: the status recorded for a run still active at exit.
    """

    def __init__(self, status: RunStatus = 'completed') -> None:
        """Args:
        status: the status recorded for a run still active at exit.
        """  # noqa: D205
        self.status: RunStatus = status

    def __repr__(self) -> str:
        return f'{type(self).__name__}(status={self.status!r})'

    def install(self) -> None:
        """Register the callback, or move it to the front of the queue."""
        atexit.unregister(self)
        atexit.register(self)

    def uninstall(self) -> None:
        """Remove the callback."""
        atexit.unregister(self)

    def __call__(self) -> None:
        """Record the active run's final status, then stop it."""
        run = _commands.active_run()
        if run is None or not run.is_active():
            return
        if run.record:
            try:
                run.experiment.registry.update_run_status(run.id, self.status)
            except Exception as error:  # the stop below writes it again
                print(
                    f'drytorch_nb: could not record run {run.id} as '
                    f'{self.status} before stopping it: {error!r}',
                    file=sys.__stderr__,
                )
        run.finish(self.status)
