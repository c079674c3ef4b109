"""Internal: the place of this process in a ``torch.distributed`` job.

In a job of several processes (ranks), the first one (rank 0) owns
everything that is shared: it alone reads and writes the run registry and
publishes events to trackers. What it decides (a run id, or an error) is
handed to the other ranks with :func:`share_outcome`, so that every rank
works on the same run and no rank waits forever for one that failed.

torch is never imported here: if it is not imported yet, no process group
can be initialized, and the process is alone.
"""

from __future__ import annotations

import pickle
import sys
from typing import Any, TypeVar

__all__ = ['is_first_process', 'rank', 'share_outcome', 'world_size']

_T = TypeVar('_T')


def _process_group() -> Any:
    """``torch.distributed`` when a process group is initialized, else None."""
    torch = sys.modules.get('torch')
    if torch is None:
        return None
    dist = getattr(torch, 'distributed', None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def rank() -> int:
    """The rank of this process (0 when not distributed)."""
    dist = _process_group()
    return 0 if dist is None else int(dist.get_rank())


def world_size() -> int:
    """The number of processes of the job (1 when not distributed)."""
    dist = _process_group()
    return 1 if dist is None else int(dist.get_world_size())


def is_first_process() -> bool:
    """Whether this process is rank 0 (always true when not distributed)."""
    return rank() == 0


def share_outcome(value: _T, error: Exception | None = None) -> _T:
    """Give every rank the outcome of work that only rank 0 did.

    Every rank of the default process group must call it. Rank 0 passes
    the value it computed, or the error that stopped it; the other ranks'
    arguments are ignored. Without a process group, this returns ``value``
    or raises ``error``.

    Args:
        value: rank 0's result; it must be picklable.
        error: the exception rank 0 got instead of a result, if any.

    Returns:
        Rank 0's value, on every rank.

    Raises:
        Exception: rank 0's error, on every rank: rank 0 raises the original
            one, the others an equivalent one (same class and message when
            it can be rebuilt, else a RuntimeError that names it).
    """
    dist = _process_group()
    if dist is None:
        if error is not None:
            raise error
        return value
    if dist.get_rank() == 0:
        payload = _error_payload(error) if error is not None else ('ok', value)
        dist.broadcast_object_list([payload], src=0)
        if error is not None:
            raise error
        return value
    box: list[Any] = [None]
    dist.broadcast_object_list(box, src=0)
    kind, content = box[0]
    if kind == 'ok':
        shared: _T = content
        return shared
    raise _rebuild_error(kind, content)


def _error_payload(error: Exception) -> tuple[str, Any]:
    """A picklable description of an error, checked before it is sent.

    drytorch errors pickle with their constructor arguments; an error that
    does not survive pickling travels as its text.
    """
    try:
        _rebuild_error('object', pickle.loads(pickle.dumps(error)))
    except Exception:  # not picklable: send its text instead
        return 'text', f'{type(error).__name__}: {error}'
    return 'object', error


def _rebuild_error(kind: str, content: Any) -> Exception:
    if kind == 'object' and isinstance(content, Exception):
        return content
    msg = f'The first process (rank 0) failed: {content}'
    return RuntimeError(msg)
