"""Private implementation of :mod:`drytorch.lib.objectives`.

The objectives are split by concept: ``base`` (objectives, metric
collections and the helpers to apply and compute them), ``combinations``
(the criteria and formulas that losses are combined with), ``loss_base``
(the abstract loss and its arithmetic), ``losses`` (the concrete losses)
and ``tracking`` (the history of a monitored value). Import them from
:mod:`drytorch.lib.objectives`.
"""

from __future__ import annotations

__all__: list[str] = []
