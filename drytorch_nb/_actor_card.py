"""The actor card: an actor's key settings, then its full metadata.

First what people look for (optimizer and learning rates, scheduler, batch
size and batches, loss and metric names, hooks, epochs done), as a table;
then the raw metadata, folded (``<details>``) and cleaned: each repeated
sub-tree (a validation's loader seen through the trainer's hooks, the
model seen by every actor) is shown once and referred to afterwards, and
array previews are cut to their first line. The card is drawn from the
run's state at draw time, so epochs done is the current count. Numbers go
through :func:`drytorch.utils.formatting.format_number`; every text from
the actor is escaped.
"""

from __future__ import annotations

import html
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from drytorch.utils.formatting import format_number

__all__ = [
    'actor_card_html',
    'clean_metadata',
    'epochs_done',
    'metadata_text',
]

_FG = 'var(--jp-ui-font-color1, inherit)'
_FG_STRONG = 'var(--jp-ui-font-color0, inherit)'
_KEY = (
    'style="white-space: nowrap; padding-right: 1em; text-align: left; '
    f'color: {_FG_STRONG};"'
)
_LEFT = 'style="text-align:left"'  # JupyterLab right-aligns table cells
_MIN_SHARED = 2  # a mapping with fewer keys is repeated, not referred to


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        lines = value.strip().splitlines()
        if len(lines) > 1:  # an array preview: its size line is enough
            return lines[0] + ' …'
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, numbers.Number):
        return format_number(value)
    return value


def clean_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata with each repeated sub-tree shown once.

    A mapping equal to one met before (in reading order) becomes
    ``(same as <path>)``; multi-line strings keep their first line;
    numbers are formatted; sequences become numbered mappings.
    """
    seen: dict[str, str] = {}

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            if len(value) >= _MIN_SHARED:
                key = repr(value)
                first = seen.get(key)
                if first is not None:
                    return f'(same as {first})'
                seen[key] = path
            return {
                str(name): walk(item, f'{path}.{name}' if path else str(name))
                for name, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            items = list(value)
            if all(
                not isinstance(item, Mapping | list | tuple) for item in items
            ):
                return ', '.join(str(_scalar(item)) for item in items)
            return {
                str(index): walk(item, f'{path}[{index}]')
                for index, item in enumerate(items)
            }
        return _scalar(value)

    cleaned = walk(metadata, '')
    return cleaned if isinstance(cleaned, dict) else {'value': cleaned}


def metadata_text(metadata: Mapping[str, Any], indent: int = 0) -> str:
    """Cleaned metadata as indented ``key: value`` lines."""
    lines = []
    pad = '  ' * indent
    for key, value in metadata.items():
        if isinstance(value, Mapping) and value:
            lines.append(f'{pad}{_clean(str(key))}:')
            lines.append(metadata_text(value, indent + 1))
        else:
            lines.append(f'{pad}{_clean(str(key))}: {_clean(str(value))}')
    return '\n'.join(lines)


def epochs_done(state: Any, actor_name: str, model_name: str) -> int | None:
    """The latest epoch a trainer logged for its model, from the state.

    None when the actor logged no metric for the model yet.
    """
    latest: float | None = None
    for (model, _metric), chart in state.curves.items():
        series = chart.get(actor_name) if model == model_name else None
        points = series.points() if series is not None else []
        if points and (latest is None or points[-1][0] > latest):
            latest = points[-1][0]
    return None if latest is None else int(latest)


def _rows(
    settings: Sequence[tuple[str, str]], epochs: int | None
) -> list[tuple[str, str]]:
    rows = list(settings)
    if epochs is not None:
        at = 1 if rows and rows[0][0] == 'Class' else 0
        rows.insert(at, ('Epochs done', format_number(epochs)))
    return rows


def _is_trainer(settings: Sequence[tuple[str, str]]) -> bool:
    return any(label == 'Optimizer' for label, _ in settings)


def actor_card_html(
    settings: Sequence[tuple[str, str]],
    metadata: Mapping[str, Any],
    epochs: int | None = None,
) -> str:
    """The actor card as HTML.

    Args:
        settings: the key settings, as (label, text) pairs.
        metadata: the actor's full metadata.
        epochs: the epochs done (shown for trainers), if known.
    """
    shown = _rows(settings, epochs if _is_trainer(settings) else None)
    table = ''.join(
        f'<tr><td {_KEY}><b>{_esc(label)}</b></td>'
        f'<td {_LEFT}>{_esc(text)}</td></tr>'
        for label, text in shown
    )
    parts = [
        f'<div class="drytorch-actor-card" style="color: {_FG}; '
        'max-width: 100%; min-width: 0;">',
    ]
    if table:
        # spacing, alignment and wrapping set once, for a small card
        parts.append(
            '<div style="overflow-x: auto; max-width: 100%; '
            'contain: inline-size;"><table '
            'style="border-spacing: 0 1px; overflow-wrap: anywhere;">'
            '<tbody style="vertical-align: top;">'
            f'{table}</tbody></table></div>'
        )
    if metadata:
        raw = _esc(metadata_text(clean_metadata(metadata)))
        parts.append(
            '<details style="margin-top: 4px;"><summary style="cursor: '
            'pointer;">All metadata</summary><pre style="margin: 0; '
            f'overflow-x: auto; max-width: 100%; '
            f'contain: inline-size;">{raw}</pre></details>'
        )
    parts.append('</div>')
    return ''.join(parts)


def _clean(text: str) -> str:
    if text.isprintable():
        return text
    return ''.join(c if c.isprintable() else repr(c)[1:-1] for c in text)
