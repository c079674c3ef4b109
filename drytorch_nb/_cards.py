"""The model and actor cards of a run, drawn from its panel state.

The live panel (one fold per model and per actor) and the snapshot draw
the cards here, from the state at draw time. ``%drytorch_status`` draws the
model card from the live model instead (see :mod:`drytorch_nb._commands`).
"""

from __future__ import annotations

from typing import Any

from drytorch_nb import _actor_card, _model_card, _render
from drytorch_nb._state import PanelState

__all__ = [
    'actor_html',
    'actor_title',
    'model_html',
    'set_fold',
]


def model_html(state: PanelState, name: str) -> str:
    """The card of a registered model (its repr if it has no summary)."""
    summary = state.cards.summaries.get(name)
    if summary is None:
        return _render.architecture_html(state.models.get(name, ''))
    return _model_card.model_card_html(summary, name)


def actor_title(key: tuple[str, str]) -> str:
    """The title of an actor's fold: ``Trainer (model)``."""
    actor_name, model_name = key
    return f'{actor_name} ({model_name})'


def _epochs(state: PanelState, key: tuple[str, str]) -> int | None:
    return _actor_card.epochs_done(state, *key)


def actor_html(state: PanelState, key: tuple[str, str]) -> str:
    """The card of a registered actor, keyed by (actor, model) name."""
    info = state.actors.get(key)
    metadata = info.metadata if info is not None else {}
    settings = state.cards.settings.get(key, ())
    return _actor_card.actor_card_html(settings, metadata, _epochs(state, key))


def set_fold(accordion: Any, index: int, html_text: str) -> bool:
    """Replace the HTML of an accordion's fold if it changed.

    Returns:
        Whether the fold exists (False: not sent to the widgets yet).
    """
    children = getattr(accordion, 'children', ())
    if index >= len(children):
        return False
    child = children[index]
    if getattr(child, 'value', None) != html_text:
        child.value = html_text  # one widget message
    return True
