"""Internal: stop the active run when the interpreter exits.

This is the one mechanism that ends a run the program left active, in a
script, a terminal IPython or a Jupyter kernel alike (``drytorch_nb`` adds
nothing to it). At a normal exit the run is recorded ``completed``; after
an uncaught exception, ``failed``; after an uncaught KeyboardInterrupt,
``interrupted``.

What happens at exit, in this order (:meth:`Run.finish
<drytorch.core.experiment.Run.finish>`):

1. the final status is written to the run registry: an atomic rename of a
   file already flushed to disk, a few milliseconds, under the registry's
   lock;
2. the trackers are notified (``StopRunEvent``): they may be slow
   (a panel snapshot, a metadata dump, an upload);
3. the run's dispatcher is closed and the run stops being the active one.

The status goes first because it is what must survive: a Jupyter kernel
asked to shut down runs the atexit callbacks, and about 2.5 s later the
kernel manager sends SIGTERM, which ends the process without running the
rest. A tracker that was still writing then loses its last output, never
the run's status, and the trackers read the final status when they hear
of the stop.

atexit runs the most recently registered callback first, so the callback
is registered again at every run start, after the start event reached the
trackers: callbacks that trackers or their libraries register when a run
starts (wandb, tensorboard writers) then run after it, however long they
take. Callbacks registered later (by something created during the run)
run before it. Whatever fails in the callback is reported on
``sys.__stderr__``, the process's own stream, since the streams of a kernel
being shut down may no longer reach anyone.

A process killed outright (SIGKILL, or SIGTERM before the callback ran)
runs no callback: the registry then finds the run's process dead at its
next access, from any process, and records the run ``interrupted``.
"""

from __future__ import annotations

import atexit
import sys
import traceback
import types

from drytorch.core import scope
from drytorch.core._run_record import RunStatus

__all__ = ['install', 'stop_active_run']

_state: dict[str, object] = {'excepthook': False, 'uncaught': None}


def install() -> None:
    """Make :func:`stop_active_run` the next atexit callback to run.

    Called at every run start. The uncaught-exception hook that tells how
    the process ended is installed once.
    """
    atexit.unregister(stop_active_run)
    atexit.register(stop_active_run)
    if _state['excepthook']:
        return
    _state['excepthook'] = True
    previous = sys.excepthook

    def _excepthook(
        exc_type: type[BaseException],
        exc: BaseException,
        tb: types.TracebackType | None,
    ) -> None:
        _state['uncaught'] = exc_type
        previous(exc_type, exc, tb)

    sys.excepthook = _excepthook


def exit_status() -> RunStatus:
    """The status that the way the process is ending calls for."""
    uncaught = _state['uncaught']
    if uncaught is None:
        return 'completed'
    if isinstance(uncaught, type) and issubclass(uncaught, KeyboardInterrupt):
        return 'interrupted'
    return 'failed'


def stop_active_run() -> None:
    """Stop the active run, if any, recording how the process ended.

    Never raises: the error is reported on ``sys.__stderr__``.
    """
    run = scope.active_run()
    if run is None or not run.is_active():
        return
    try:
        run.finish(exit_status())
    except BaseException:  # an atexit callback: nobody else would see it
        stream = sys.__stderr__
        if stream is not None:
            print(
                f'drytorch: stopping run {run.id} at exit failed:',
                file=stream,
            )
            traceback.print_exc(file=stream)
