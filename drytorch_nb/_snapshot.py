"""The static HTML snapshot of a panel.

When a run stops, the live widgets are replaced by this snapshot: one
self-contained piece of HTML (inline styles, charts as SVG images in
``data:`` URIs, no script, no link, no external resource) that a saved
notebook shows anywhere, with the kernel gone and without any widget state,
also where untrusted HTML is sanitized. The tabs of the live panel become
``<details>`` sections, which fold without script.
"""

from __future__ import annotations

import html

from drytorch_nb import _render
from drytorch_nb._state import PanelState

__all__ = ['snapshot_html']


def _section(title: str, body: str, is_open: bool = False) -> str:
    flag = ' open' if is_open else ''
    return (
        f'<details{flag} class="drytorch-section" style="margin: 4px 0;">'
        f'<summary style="font-weight: bold; cursor: pointer;">'
        f'{html.escape(title)}'
        f'</summary><div style="margin-left: 12px;">{body}</div></details>'
    )


def _models(state: PanelState) -> str:
    if not state.models:
        return '<i>no model registered</i>'
    return ''.join(
        _section(name, _render.architecture_html(arch))
        for name, arch in state.models.items()
    )


def _actors(state: PanelState) -> str:
    if not state.actors:
        return '<i>no actor registered</i>'
    return ''.join(
        _section(
            f'{info.name} ({info.model_name})',
            _render.metadata_html(info.metadata),
        )
        for info in state.actors.values()
    )


def _progress(state: PanelState) -> str:
    parts = []
    if state.end_epoch:
        parts.append(
            _render.progress_html(
                'Epoch',
                state.epochs_done - state.start_epoch,
                state.end_epoch - state.start_epoch,
            )
        )
    progress = state.progress
    if progress.source:
        parts.append(
            _render.progress_html(
                progress.source, progress.done, progress.n_iter
            )
        )
    return ''.join(parts)


def snapshot_html(state: PanelState, now: float) -> str:
    """The final panel as static HTML.

    Args:
        state: the run's state.
        now: the clock reading used for the elapsed time of a running run.

    Returns:
        A ``<div>`` with the header, progress, charts, models, actors and
        event log; every user-provided text in it is escaped.
    """
    sections = [
        _section(
            'Metrics', _render.charts_html(state, as_images=True), is_open=True
        ),
        _section('Model', _models(state)),
        _section('Actors', _actors(state)),
        _section('Log', _render.log_html(state.log)),
    ]
    return (
        '<div class="drytorch-panel drytorch-snapshot" style="border: 1px '
        'solid #ccc; border-radius: 4px; padding: 6px 10px; '
        'font-family: sans-serif; font-size: 13px;">'
        f'{_render.header_html(state, now)}{_progress(state)}'
        f'{"".join(sections)}</div>'
    )
