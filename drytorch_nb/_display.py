"""Tables that render as HTML in a notebook and as plain text elsewhere.

``IPython.display.display`` hands a frontend both representations and the
frontend picks one: JupyterLab, Notebook, VS Code and Colab show the HTML, a
terminal shows the text. Every value that reaches the HTML goes through
``html.escape``: names, reprs and configuration values come from user code
and are shown as text, never interpreted as markup. The text form replaces
control characters, so a value cannot move the terminal's cursor either.
"""

from __future__ import annotations

import html
import reprlib
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ['Report', 'Table', 'short_repr']

_REPR = reprlib.Repr()
_REPR.maxstring = 200
_REPR.maxother = 200
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 20
_REPR.maxlevel = 3

_TABLE_STYLE = 'border-collapse: collapse; margin: 0.25em 0 0.75em 0;'
_CELL_STYLE = (
    'text-align: left; padding: 0.15em 0.75em 0.15em 0; '
    'vertical-align: top; font-family: monospace;'
)


def short_repr(value: object) -> str:
    """A repr of ``value`` cut to a readable length; never raises."""
    try:
        return _REPR.repr(value)
    except Exception as error:  # a broken __repr__ must not break a table
        return f'<{type(value).__name__}: repr failed with {error!r}>'


def _text(value: object) -> str:
    """The value as one line of printable text."""
    text = '' if value is None else str(value)
    if text.isprintable():
        return text
    return ''.join(
        char if char.isprintable() else repr(char)[1:-1] for char in text
    )


def _escape(value: object) -> str:
    return html.escape('' if value is None else str(value), quote=True)


class Table:
    """A titled table of values, shown as HTML or as aligned text.

    Attributes:
        title: the caption.
        headers: the column names.
        rows: the rows, each value converted to ``str``.
        empty: the text shown instead of a table without rows.
    """

    def __init__(
        self,
        title: str,
        headers: Sequence[str],
        rows: Iterable[Sequence[object]],
        empty: str = 'None.',
    ) -> None:
        """Args:
        title: the caption.
        headers: the column names.
        rows: the rows; values are converted with ``str`` (None: empty).
        empty: the text shown instead of a table without rows.
        """  # noqa: D205
        self.title = title
        self.headers = tuple(headers)
        self.rows = tuple(
            tuple('' if value is None else str(value) for value in row)
            for row in rows
        )
        for row in self.rows:
            if len(row) != len(self.headers):
                msg = (
                    f'Expected rows of {len(self.headers)} values, '
                    f'got {len(row)}.'
                )
                raise ValueError(msg)
        self.empty = empty

    def __repr__(self) -> str:
        return self.to_text()

    def to_text(self) -> str:
        """The table as aligned plain text."""
        lines = [_text(self.title)]
        if not self.rows:
            lines.append(f'  {_text(self.empty)}')
            return '\n'.join(lines)
        cells = [
            [_text(value) for value in row]
            for row in (self.headers, *self.rows)
        ]
        widths = [
            max(len(row[i]) for row in cells) for i in range(len(cells[0]))
        ]
        for index, row in enumerate(cells):
            pairs = zip(row, widths, strict=True)
            padded = '  '.join(value.ljust(width) for value, width in pairs)
            lines.append(f'  {padded}'.rstrip())
            if index == 0:
                rule = '  '.join('-' * width for width in widths)
                lines.append(f'  {rule}')
        return '\n'.join(lines)

    def _repr_html_(self) -> str:
        parts = [f'<div><strong>{_escape(self.title)}</strong>']
        if not self.rows:
            parts.append(f'<div><em>{_escape(self.empty)}</em></div></div>')
            return ''.join(parts)
        parts.append(f'<table style="{_TABLE_STYLE}"><thead><tr>')
        parts.extend(
            f'<th style="{_CELL_STYLE}">{_escape(name)}</th>'
            for name in self.headers
        )
        parts.append('</tr></thead><tbody>')
        for row in self.rows:
            parts.append('<tr>')
            parts.extend(
                f'<td style="{_CELL_STYLE}">{_escape(value)}</td>'
                for value in row
            )
            parts.append('</tr>')
        parts.append('</tbody></table></div>')
        return ''.join(parts)


class Report:
    """Lines of text and tables shown together, in order.

    Attributes:
        parts: the lines (``str``) and tables.
    """

    def __init__(self, *parts: str | Table | Any) -> None:
        """Args:
        parts: the lines (``str``), tables and other parts with
            ``to_text()`` and ``_repr_html_()`` (model cards), in order.
        """  # noqa: D205
        self.parts = parts

    def __repr__(self) -> str:
        return self.to_text()

    def to_text(self) -> str:
        """The report as plain text."""
        return '\n'.join(
            part.to_text() if hasattr(part, 'to_text') else _text(part)
            for part in self.parts
        )

    def tables(self) -> list[Table]:
        """The tables of the report."""
        return [part for part in self.parts if isinstance(part, Table)]

    def _repr_html_(self) -> str:
        body = ''.join(
            part._repr_html_()
            if hasattr(part, '_repr_html_')
            else f'<div>{_escape(part)}</div>'
            for part in self.parts
        )
        return f'<div class="drytorch-nb">{body}</div>'
