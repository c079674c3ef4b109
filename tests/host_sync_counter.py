"""Count the Tensor calls that bring values to the host (a device sync).

On an accelerator each of these calls waits for the device; counting them
on the CPU shows where a loop would synchronize. The regression tests and
``bench/host_syncs.py`` share this counter, so that it imports torch only:
the bench runs it under other interpreters too (the reference release's).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

SYNC_METHODS = (
    'item',
    'tolist',
    'cpu',
    'numpy',
    '__bool__',
    '__float__',
    '__int__',
    '__format__',
)


@contextlib.contextmanager
def count_host_syncs() -> Iterator[dict[str, int]]:
    """Count calls of the Tensor methods that bring values to the host."""
    counts = dict.fromkeys(SYNC_METHODS, 0)
    saved: dict[str, tuple[bool, Any]] = {}
    for name in SYNC_METHODS:
        original = getattr(torch.Tensor, name)
        saved[name] = (name in torch.Tensor.__dict__, original)

        def wrapper(self, *args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(self, *args, **kwargs)

        setattr(torch.Tensor, name, wrapper)
    try:
        yield counts
    finally:
        for name, (own, original) in saved.items():
            if own:
                setattr(torch.Tensor, name, original)
            else:
                delattr(torch.Tensor, name)
