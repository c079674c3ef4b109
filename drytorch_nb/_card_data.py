"""What the model and actor cards of a run are drawn from.

Kept in the run's :class:`~drytorch_nb._state.PanelState`, so that the live
panel, the snapshot and ``%drytorch_status`` draw the same cards, from the
state at draw time (not from values frozen when an actor registered).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drytorch.utils.model_summary import ModelSummary

__all__ = ['CardBook']


@dataclasses.dataclass
class CardBook:
    """The cards' data of one run.

    Attributes:
        summaries: the latest summary of each model, by model name (with
            output shapes once the model ran).
        settings: the key settings of each actor, by (actor, model) name.
        next_refresh: clock reading before which the live actor cards are
            not redrawn again (they change once per epoch at most).
    """

    summaries: dict[str, ModelSummary] = dataclasses.field(
        default_factory=dict
    )
    settings: dict[tuple[str, str], tuple[tuple[str, str], ...]] = (
        dataclasses.field(default_factory=dict)
    )
    next_refresh: float = 0.0
