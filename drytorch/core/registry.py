"""The run registry, under its former module name.

The module is :mod:`drytorch.core.run_registry`; this path gives the same
classes.
"""

from __future__ import annotations

from drytorch.core.run_registry import (
    TS_FMT,
    RunMetadata,
    RunRegistry,
    RunStatus,
)

__all__ = ['TS_FMT', 'RunMetadata', 'RunRegistry', 'RunStatus']
