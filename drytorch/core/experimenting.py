"""Experiments and runs, under the module name of drytorch 0.1.0rc11.

0.1.0rc11 renamed ``drytorch.core.experiment`` to this; both import paths
give the same classes (see :mod:`drytorch.core.experiment`).
"""

from __future__ import annotations

from drytorch.core.experiment import (
    Experiment,
    Run,
    RunMetadata,
    RunRegistry,
    RunStatus,
)

__all__ = ['Experiment', 'Run', 'RunMetadata', 'RunRegistry', 'RunStatus']
