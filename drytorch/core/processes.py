"""Internal: whether the process that recorded a run is still alive.

A pid alone is not enough: pids are reused. Where the platform exposes it
(Linux ``/proc``), the process start time is recorded beside the pid and
compared, so a new process that got the same pid is not mistaken for the
one that died.
"""

from __future__ import annotations

import os

__all__ = ['is_alive', 'start_time']


def start_time(pid: int) -> str | None:
    """The start time of a process in clock ticks since boot, if known."""
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii') as stat:
            text = stat.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: split after its ')'
    fields = text[text.rfind(')') + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def is_alive(pid: int, recorded_start: str | None = None) -> bool:
    """Whether ``pid`` runs and is the process that was recorded."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    except OSError:
        return False
    if recorded_start is not None:
        current = start_time(pid)
        if current is not None and current != recorded_start:
            return False
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii') as stat:
            text = stat.read()
    except OSError:
        return True
    return text[text.rfind(')') + 2 :][:1] != 'Z'
