"""The model card: a module's layers, parameters, sizes and shapes.

Drawn from a :class:`~drytorch.utils.model_summary.ModelSummary`, as HTML
(panel, snapshot, ``%drytorch_status`` in a notebook) and as plain text
(``%drytorch_status`` elsewhere). The HTML has a totals block (total,
trainable and frozen parameters, memory per dtype, input and output shape,
device, precision) and a table of the layers (name, type, output shape,
parameters, trainable parameters) in which every module with sub-modules
folds (``<details>``, no script). Columns are percentages of a box that
scrolls sideways when narrower than the table; colours come from the
JupyterLab theme variables. Every text from the model is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from drytorch.utils.formatting import format_bytes, format_number
from drytorch.utils.model_summary import DtypeSize, LayerSummary, ModelSummary

__all__ = ['MAX_CARD_ROWS', 'ModelCard', 'model_card_html', 'model_card_text']

MAX_CARD_ROWS = 150
"""Layers drawn in a card; the totals always count every layer."""

_OPEN_ALL_BELOW = 30  # models with fewer layers show every fold open

_COLUMNS = (
    ('Layer', 26),
    ('Type', 24),
    ('Output shape', 20),
    ('Params', 14),
    ('Trainable', 16),
)
_FG = 'var(--jp-ui-font-color1, inherit)'
_FG_STRONG = 'var(--jp-ui-font-color0, inherit)'
_BORDER = 'var(--jp-border-color2, rgba(128, 128, 128, 0.4))'
_BG = 'var(--jp-layout-color1, transparent)'
# Cell spacing, alignment and wrapping are set once per table (spacing,
# inherited properties), not per cell: the card stays small in a saved
# notebook. Numbers align right through their own short style.
_TABLE = (
    'style="width: 100%; table-layout: fixed; border-spacing: 6px 1px; '
    'overflow-wrap: anywhere;"'
)
_BODY = '<tbody style="vertical-align: top;">'
_NUM = 'style="text-align: right;"'
# JupyterLab right-aligns every cell of rendered HTML; text reads left
_LEFT = 'style="text-align:left"'


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def compact_count(count: int) -> str:
    """A count with its size in thousands or millions: ``12345 (12.35 k)``."""
    text = format_number(count)
    for scale, unit in ((1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
        if count >= 10 * scale or (unit != 'k' and count >= scale):
            return f'{text} ({format_number(count / scale)} {unit})'
    return text


def _values(count: int, kind: str) -> str:
    return f'{format_number(count)} {kind} value{"" if count == 1 else "s"}'


def _dtype_text(size: DtypeSize) -> str:
    counts = []
    if size.params:
        counts.append(_values(size.params, 'parameter'))
    if size.buffers:
        counts.append(_values(size.buffers, 'buffer'))
    return f'{size.dtype} {format_bytes(size.n_bytes)} ({", ".join(counts)})'


def _size_text(summary: ModelSummary) -> str:
    total = format_bytes(summary.total_bytes)
    if not summary.sizes:
        return total
    return f'{total} = ' + ' + '.join(map(_dtype_text, summary.sizes))


def totals(summary: ModelSummary) -> list[tuple[str, str]]:
    """The totals of the card as (label, text) rows."""
    rows = [
        ('Parameters', compact_count(summary.total_params)),
        ('Trainable', compact_count(summary.trainable_params)),
        ('Frozen', compact_count(summary.frozen_params)),
    ]
    rows.append(('Size', _size_text(summary)))
    if summary.uninitialized:
        rows.append(
            (
                'Not initialized',
                f'{format_number(summary.uninitialized)} lazy tensors '
                '(counted 0 until the first forward pass)',
            )
        )
    if summary.has_shapes:
        rows.append(('Input shape', summary.input_shape))
        rows.append(('Output shape', summary.output_shape))
    else:
        rows.append(('Shapes', 'known after the first forward pass'))
    rows.extend(summary.details)
    modules = format_number(summary.n_modules)
    if summary.n_eval:
        modules += f' ({format_number(summary.n_eval)} in eval mode)'
    rows.append(('Modules', modules))
    return rows


def _missing(summary: ModelSummary) -> str:
    """The shape shown for a layer without one."""
    # after a forward pass, a layer without a shape was not called by it
    return 'not called' if summary.has_shapes else '?'


def _colgroup() -> str:
    cols = ''.join(f'<col style="width: {width}%;">' for _, width in _COLUMNS)
    return f'<colgroup>{cols}</colgroup>'


def _cells(layer: LayerSummary, folds: bool, marks: bool, missing: str) -> str:
    # names indent by depth; without the fold mark, by its width too
    indent = 1.1 * (layer.depth - 1) + (0.0 if folds or not marks else 0.9)
    pad = f'padding-left:{indent:.1f}em;' if indent else ''
    style = f' style="text-align:left;{pad}"'
    mark = '\u25b8 ' if folds else ''
    return (
        f'<tr><td{style}>{mark}{_esc(layer.name)}</td>'
        f'<td {_LEFT}>{_esc(layer.type_name)}</td>'
        f'<td {_LEFT}>{_esc(layer.output_shape or missing)}</td>'
        f'<td {_NUM}>{format_number(layer.params)}</td>'
        f'<td {_NUM}>{format_number(layer.trainable)}</td></tr>'
    )


def _table(rows: Sequence[str]) -> str:
    return (
        f'<table {_TABLE}>{_colgroup()}{_BODY}{"".join(rows)}</tbody></table>'
    )


_Node = tuple[LayerSummary, list['_Node']]


def _tree(layers: Sequence[LayerSummary]) -> list[_Node]:
    """Nest the layers (listed depth first) under their parents."""
    roots: list[_Node] = []
    stack: list[_Node] = []
    for layer in layers:
        node: _Node = (layer, [])
        while stack and not layer.name.startswith(stack[-1][0].name + '.'):
            stack.pop()
        (stack[-1][1] if stack else roots).append(node)
        stack.append(node)
    return roots


def _block(
    nodes: list[_Node], is_open: bool, marks: bool, missing: str
) -> str:
    parts: list[str] = []
    leaves: list[str] = []
    flag = ' open' if is_open else ''
    for layer, children in nodes:
        if not children:
            leaves.append(_cells(layer, False, marks, missing))
            continue
        if leaves:
            parts.append(_table(leaves))
            leaves = []
        row = _table([_cells(layer, True, marks, missing)])
        parts.append(
            f'<details{flag}><summary style="display: block; cursor: '
            f'pointer; list-style: none;">{row}</summary>'
            f'{_block(children, is_open, marks, missing)}</details>'
        )
    if leaves:
        parts.append(_table(leaves))
    return ''.join(parts)


def _header() -> str:
    cells = ''.join(
        f'<th style="text-align: {"right" if index > 2 else "left"};">'
        f'{name}</th>'
        for index, (name, _) in enumerate(_COLUMNS)
    )
    return (
        f'<table {_TABLE}>{_colgroup()}<thead style="color: {_FG_STRONG}; '
        'overflow-wrap: normal;">'
        f'{cells}</thead></table>'
        f'<div style="border-top: 1px solid {_BORDER};"></div>'
    )


def _hidden(summary: ModelSummary, shown: int) -> int:
    return summary.n_modules - shown


def model_card_html(summary: ModelSummary | None, name: str = '') -> str:
    """The model card as HTML.

    Args:
        summary: the model's summary; None draws a short notice.
        name: the model's name, shown in the title.
    """
    if summary is None:
        return '<div class="drytorch-model-card"><i>no summary</i></div>'
    title = _esc(name or summary.class_name)
    if name and name != summary.class_name:
        title += (
            f' <span style="opacity: 0.7;">({_esc(summary.class_name)})</span>'
        )
    rows = ''.join(
        f'<tr><td style="white-space:nowrap;text-align:left"><b>'
        f'{_esc(key)}</b></td><td {_LEFT}>{_esc(value)}</td></tr>'
        for key, value in totals(summary)
    )
    layers = summary.layers[:MAX_CARD_ROWS]
    parts = [
        f'<div class="drytorch-model-card" style="color: {_FG}; '
        'max-width: 100%; min-width: 0;">',
        f'<div style="font-weight: bold; color: {_FG_STRONG};">{title}</div>',
        '<div style="overflow-x: auto; max-width: 100%; '
        'contain: inline-size;">'
        '<table style="border-spacing: 6px 1px; margin: 2px 0 6px 0; '
        f'overflow-wrap: anywhere;">{_BODY}{rows}</tbody></table></div>',
    ]
    if layers:
        is_open = len(layers) <= _OPEN_ALL_BELOW
        tree = _tree(layers)
        marks = any(layer.n_children for layer in layers)
        missing = _missing(summary)
        parts.append(
            '<div class="drytorch-layers" style="overflow-x: auto; '
            f'max-width: 100%; contain: inline-size; '
            f'border: 1px solid {_BORDER}; '
            f'border-radius: 4px; background: {_BG};">'
            '<div style="min-width: 36em;">'
            f'{_header()}{_block(tree, is_open, marks, missing)}</div></div>'
        )
    hidden = _hidden(summary, len(layers))
    if hidden > 0:
        parts.append(
            f'<div><i>{format_number(hidden)} more modules not listed '
            '(the totals count them)</i></div>'
        )
    parts.append('</div>')
    return ''.join(parts)


def _clean(text: str) -> str:
    """One printable line (names come from user code)."""
    if text.isprintable():
        return text
    return ''.join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def model_card_text(summary: ModelSummary | None, name: str = '') -> str:
    """The model card as plain text (aligned columns)."""
    if summary is None:
        return f'Model {_clean(name)}: no summary'
    title = _clean(name or summary.class_name)
    if name and name != summary.class_name:
        title += f' ({_clean(summary.class_name)})'
    lines = [f'Model {title}']
    pairs = [(_clean(key), _clean(value)) for key, value in totals(summary)]
    width = max(len(key) for key, _ in pairs)
    lines.extend(f'  {key.ljust(width)}  {value}' for key, value in pairs)
    layers = summary.layers[:MAX_CARD_ROWS]
    if layers:
        table = [tuple(name for name, _ in _COLUMNS)]
        table.extend(
            (
                '  ' * (layer.depth - 1) + _clean(layer.name),
                _clean(layer.type_name),
                _clean(layer.output_shape or _missing(summary)),
                format_number(layer.params),
                format_number(layer.trainable),
            )
            for layer in layers
        )
        widths = [max(len(row[i]) for row in table) for i in range(5)]
        lines.append('')
        for index, row in enumerate(table):
            cells = [
                value.rjust(width) if column > 2 else value.ljust(width)
                for column, (value, width) in enumerate(
                    zip(row, widths, strict=True)
                )
            ]
            lines.append(('  ' + '  '.join(cells)).rstrip())
            if index == 0:
                lines.append('  ' + '  '.join('-' * w for w in widths))
    hidden = _hidden(summary, len(layers))
    if hidden > 0:
        lines.append(
            f'  {format_number(hidden)} more modules not listed '
            '(the totals count them)'
        )
    return '\n'.join(lines)


class ModelCard:
    """A model card in a report: HTML in a notebook, text elsewhere.

    Attributes:
        summary: the model's summary (None: no summary).
        name: the model's name.
    """

    def __init__(self, summary: ModelSummary | None, name: str) -> None:
        """Args:
        summary: the model's summary (None: no summary).
        name: the model's name.
        """  # noqa: D205
        self.summary = summary
        self.name = name

    def __repr__(self) -> str:
        return self.to_text()

    def to_text(self) -> str:
        """The card as plain text."""
        return model_card_text(self.summary, self.name)

    def _repr_html_(self) -> str:
        return model_card_html(self.summary, self.name)
