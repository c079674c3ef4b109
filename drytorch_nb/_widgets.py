"""The live panel: a tree of core ipywidgets (7.6 to 8.x).

Only widgets that every frontend renders natively are used (VBox, HTML,
Tab, Accordion, Output), and only APIs common to ipywidgets 7 and 8
(``set_title``, ``hold_sync``, trait assignment). Each setter changes one
widget, so it costs at most one comm message, and none when nothing
changed. No widget has a fixed width: the bars are HTML that shrinks with
the notebook (see :mod:`drytorch_nb._bars`).

The progress widget can be shown twice: in the panel and, as a compact
view, in the cell that trains or evaluates. Both views are of the same
widget, so keeping both up to date costs one message.
"""

from __future__ import annotations

import importlib
from typing import Any

from drytorch_nb._render import text_label

__all__ = ['TAB_TITLES', 'LiveView']


def _major_version(module: Any) -> int:
    text = str(getattr(module, '__version__', '8')).split('.', 1)[0]
    return int(text) if text.isdigit() else 8


TAB_TITLES = ('Metrics', 'Model', 'Actors', 'Log')
"""The panel's tabs, in order."""

_WIDGET_MIME = 'application/vnd.jupyter.widget-view+json'


class LiveView:
    """The widgets of one run's panel.

    Attributes:
        root: the panel's top widget (a VBox).
        header: experiment, run, status, tags and configuration (HTML).
        status: the epoch and batch bars with their counts, rate and time
            left, and the running metrics (HTML).
        tabs: the Metrics, Model, Actors and Log tabs (Tab).
        charts: the metric charts (HTML).
        models: one fold per model architecture (Accordion).
        actors: one fold per actor's metadata (Accordion).
        log: the latest notable events (Output, bounded).
    """

    def __init__(self, header: str = '', status: str = '') -> None:
        """Build the widget tree (ipywidgets must be importable).

        Args:
            header: the header's first HTML.
            status: the status line's first HTML.
        """
        widgets: Any = importlib.import_module('ipywidgets')
        self._widgets = widgets
        self._v7 = _major_version(widgets) < 8
        # initial values travel with the widgets' creation: no update
        # No widget may be held wider than the notebook by its content: the
        # content wraps (bars, charts) or scrolls in its own box (tables).
        fill = {'min_width': '0'}
        self.header = widgets.HTML(value=header, layout=fill)
        self.status = widgets.HTML(value=status, layout=fill)
        self.charts = widgets.HTML(value='<i>no metrics yet</i>', layout=fill)
        self.models = widgets.Accordion(
            children=[], selected_index=None, layout=fill
        )
        self.actors = widgets.Accordion(
            children=[], selected_index=None, layout=fill
        )
        self.log = widgets.Output(layout=fill)
        self.tabs = widgets.Tab(
            layout=fill,
            children=[self.charts, self.models, self.actors, self.log],
            selected_index=0,
            **self._titles_kwargs(TAB_TITLES),
        )
        self.root = widgets.VBox(
            children=[self.header, self.status, self.tabs],
            layout={'width': '100%', 'max_width': '100%'},
        )
        self._owned: list[Any] = [
            self.root,
            self.header,
            self.status,
            self.tabs,
            self.charts,
            self.models,
            self.actors,
            self.log,
        ]
        self._compacts: list[Any] = []
        self.closed = False

    def connected(self) -> bool:
        """Whether the widgets reach a frontend (a kernel comm is open).

        ipywidgets 7.7.2+ next to an ipykernel older than 6.18 creates
        placeholder comms that send nothing: such widgets never display.
        """
        comm = getattr(self.root, 'comm', None)
        if comm is None or type(comm).__name__ == 'DummyComm':
            return False
        # ipykernel's comms outside a kernel have no kernel to send through
        return getattr(comm, 'kernel', True) is not None

    def mime_bundle(self, text: str, widget: Any = None) -> dict[str, Any]:
        """The display data of the panel, with a plain-text fallback.

        Published raw (not through ``display(widget)``) because ipywidgets 7
        displays itself and would drop the display id needed to replace the
        panel by its snapshot.

        Args:
            text: the plain-text fallback.
            widget: the widget to show; None for the whole panel.
        """
        shown = self.root if widget is None else widget
        return {
            'text/plain': text,
            _WIDGET_MIME: {
                'version_major': 2,
                'version_minor': 0,
                'model_id': shown.model_id,
            },
        }

    def compact(self) -> Any:
        """A new compact view (the progress widget alone) for a cell.

        Close it with :meth:`close_compact`; the progress widget it shows
        stays the panel's.
        """
        box = self._widgets.VBox(
            children=[self.status], layout={'width': '100%'}
        )
        self._compacts.append(box)
        return box

    def close_compact(self, box: Any) -> None:
        """Close a compact view (not the progress widget it shows)."""
        if box in self._compacts:
            self._compacts.remove(box)
        box.layout.close()
        box.close()

    def set_status(self, value: str) -> None:
        """Replace the status line's HTML."""
        self.status.value = value

    def set_charts(self, value: str) -> None:
        """Replace the charts' HTML."""
        self.charts.value = value

    def set_header(self, value: str) -> None:
        """Replace the header's HTML."""
        self.header.value = value

    def set_log(self, text: str) -> None:
        """Replace the log's content (the caller bounds it)."""
        self.log.outputs = (
            {'output_type': 'stream', 'name': 'stdout', 'text': text},
        )

    def _titles_kwargs(self, titles: tuple[str, ...]) -> dict[str, Any]:
        # ipywidgets 8 syncs a tuple 'titles', 7 a dict '_titles' keyed by
        # the index as a string (JSON keys)
        if self._v7:
            return {
                '_titles': {str(i): title for i, title in enumerate(titles)}
            }
        return {'titles': titles}

    def add_folds(self, folds: list[tuple[bool, str, str]]) -> None:
        """Add folds (is_model, title, HTML): one message per accordion.

        The first model fold opens; actor folds start closed.
        """
        for accordion, is_model in ((self.models, True), (self.actors, False)):
            new = [
                (title, value)
                for kind, title, value in folds
                if kind is is_model
            ]
            if new:
                self._extend(accordion, new, open_first=is_model)

    def _extend(
        self, accordion: Any, new: list[tuple[str, str]], open_first: bool
    ) -> None:
        children = list(accordion.children)
        labels = self.titles(accordion)
        for title, value in new:
            child = self._widgets.HTML(value=value, layout={'min_width': '0'})
            self._owned.append(child)
            children.append(child)
            labels.append(text_label(title))
        with accordion.hold_sync():
            accordion.children = tuple(children)
            if self._v7:
                accordion._titles = {
                    str(index): label for index, label in enumerate(labels)
                }
            else:
                accordion.titles = tuple(labels)
            if open_first and accordion.selected_index is None:
                accordion.selected_index = 0

    def titles(self, container: Any) -> list[str]:
        """The titles of a Tab's or an Accordion's pages, in order."""
        return [
            container.get_title(index) or ''
            for index in range(len(container.children))
        ]

    def close(self) -> None:
        """Close every widget of the panel (frees them in the kernel)."""
        if self.closed:
            return
        self.closed = True
        for box in list(self._compacts):
            self.close_compact(box)
        owned, self._owned = self._owned, []
        for widget in owned:
            for name in ('layout', 'style'):
                part = getattr(widget, name, None)
                if part is not None and hasattr(part, 'close'):
                    part.close()
            widget.close()

    def iter_widgets(self) -> list[Any]:
        """Every widget of the panel (layouts and styles excluded)."""
        return list(self._owned)
