"""Private implementation of :mod:`drytorch.lib.hooks`.

The hooks are split by concept: ``registry`` (the registry and the basic
hooks), ``monitoring`` (reading and tracking a monitored metric),
``callbacks`` (early stopping and pruning) and ``plateau`` (scheduler
changes on a plateau). Import them from :mod:`drytorch.lib.hooks`.
"""

from __future__ import annotations

__all__: list[str] = []
