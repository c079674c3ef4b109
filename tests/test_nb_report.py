"""Tests of what the panel reports: charts, bars, final summary, layout.

The panel is fed real log_events values (and, end to end, a real training);
charts are read back as SVG documents, the rest as HTML text.
"""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils import data

from drytorch import DataLoader, Experiment, LearningSchema, Loss, Trainer
from drytorch import Model as DryModel
from drytorch.core import events
from drytorch.core.track import Tracker
from drytorch_nb import _bars, _render, _snapshot, _summary, _svg
from drytorch_nb._state import PanelState, PassProgress, lower_is_better
from drytorch_nb.panel import NotebookPanel

pytest.importorskip('ipywidgets')

NS = {'svg': 'http://www.w3.org/2000/svg'}
NOW = datetime.datetime(2026, 1, 1)
WIDGET_MIME = 'application/vnd.jupyter.widget-view+json'


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _state_with(curves: dict[str, list[float]], metric: str) -> PanelState:
    state = PanelState(max_points=50)
    state.training_source = 'Trainer'
    for source, values in curves.items():
        for epoch, value in enumerate(values, start=1):
            state.add_metrics('net', source, epoch, {metric: value})
    return state


def _svg_root(state: PanelState) -> ET.Element:
    html_text = _render.charts_html(state)
    (svg,) = re.findall(r'<svg.*?</svg>', html_text, flags=re.S)
    return ET.fromstring(svg)


def _texts(root: ET.Element) -> list[str]:
    return [node.text or '' for node in root.iterfind('.//svg:text', NS)]


def test_chart_has_grid_epoch_ticks_dashed_validation_and_best_ring() -> None:
    state = _state_with(
        {'Trainer': [1.0, 0.6, 0.4, 0.3], 'Validation': [0.9, 0.5, 0.7, 0.8]},
        'loss',
    )
    root = _svg_root(state)
    grid = [
        line
        for line in root.iterfind('svg:line', NS)
        if line.get('stroke-opacity') == '0.15'
    ]
    assert len(grid) >= 3  # y ticks come with light grid lines
    texts = _texts(root)
    assert {'1', '2', '3', '4'} <= set(texts)  # whole epochs on the x axis
    lines = {
        polyline.get('stroke'): polyline
        for polyline in root.iterfind('svg:polyline', NS)
    }
    trainer, validation = (lines[color] for color in _svg.COLORS[:2])
    assert trainer.get('stroke-dasharray') is None
    assert validation.get('stroke-dasharray') == '5 3'
    # the best validation epoch (the 2nd, lowest loss) is ringed and named
    rings = [c for c in root.iterfind('svg:circle', NS) if c.get('r') == '4.5']
    assert len(rings) == 1
    second = validation.get('points', '').split()[1].split(',')
    assert (rings[0].get('cx'), rings[0].get('cy')) == tuple(second)
    assert 'Validation · best 0.5 at epoch 2' in texts
    assert 'Trainer' in texts
    assert 'log scale' not in ' '.join(texts)


def test_best_follows_the_metric_direction() -> None:
    state = _state_with({'Validation': [0.5, 0.9, 0.7]}, 'accuracy')
    assert 'Validation · best 0.9 at epoch 2' in _texts(_svg_root(state))
    assert lower_is_better('Cross Entropy') and lower_is_better('val_MSE')
    assert lower_is_better('NLL') and lower_is_better('Error rate')
    assert not lower_is_better('Accuracy') and not lower_is_better('F1')
    # the comparison of runs ranks by the same rule as the panel
    from drytorch_nb import _results

    assert _results.best_index('CE', [0.5, 0.2, 0.9]) == 1
    assert _results.best_index('Accuracy', [0.5, 0.2, 0.9]) == 2


def test_log_scale_for_a_loss_spanning_more_than_two_decades() -> None:
    state = _state_with({'Trainer': [10.0, 1.0, 0.1, 0.01]}, 'loss')
    texts = _texts(_svg_root(state))
    assert 'epoch · log scale' in texts
    assert {'0.01', '0.1', '1', '10'} <= set(texts)
    narrow = _state_with({'Trainer': [1.0, 0.5, 0.2]}, 'loss')
    assert 'epoch · log scale' not in _texts(_svg_root(narrow))


def test_a_thousand_epochs_stay_light() -> None:
    values = [1.0 / epoch for epoch in range(1, 1001)]
    state = _state_with({'Trainer': values, 'Validation': values}, 'loss')
    root = _svg_root(state)
    for polyline in root.iterfind('svg:polyline', NS):
        assert len(polyline.get('points', '').split()) <= 51
    assert len(_render.charts_html(state)) < 8_000
    summary = state.summaries[('net', 'Validation', 'loss')]
    assert (summary.best_epoch, summary.final_epoch) == (1000, 1000)


def test_chart_images_use_a_grey_that_reads_on_both_themes() -> None:
    state = _state_with({'Trainer': [1.0, 0.5]}, 'loss')
    html_text = _render.charts_html(state, as_images=True)
    (src,) = re.findall(r'src="([^"]+)"', html_text)
    svg = _svg.svg_of_data_uri(src)
    assert _svg.MID_GREY in svg and 'currentColor' not in svg
    assert '#fff' not in svg  # no white card in a dark theme


def test_bars_show_counts_rate_and_time_left() -> None:
    progress = PassProgress('train', n_iter=30, done=9, started=0, updated=2)
    assert _bars.pass_text(progress) == '9/30  4.5it/s  00:02<00:05'
    state = PanelState(start_epoch=0, end_epoch=10, epochs_done=4)
    state.training_started = 0.0
    state.training_active = True
    assert _bars.epoch_text(state, 8.0) == '4/10  00:08<00:12'
    html_text = _bars.bars_html(state, 8.0)
    assert 'aria-valuenow="4" aria-valuemax="10"' in html_text
    assert 'width: 40.0%' in html_text
    state.training_active = False  # a test after the training: no epochs
    state.progress = PassProgress('Test', n_iter=2, done=1)
    assert 'Epoch' not in _bars.bars_html(state, 9.0)


class _Recorder(Tracker):
    """Keeps every metric event."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: list[events.MetricEvent] = []

    def notify(self, event: events.Event) -> None:
        if isinstance(event, events.MetricEvent):
            self.metrics.append(event)


def test_snapshot_summary_holds_final_and_best_of_a_real_training(
    tmp_path: Any,
) -> None:
    experiment = Experiment(None, name='Summary', par_dir=tmp_path)
    panel = NotebookPanel(mode='text', stream=_Sink())
    recorder = _Recorder()
    experiment.trackers.subscribe(panel, recorder)
    torch.manual_seed(0)
    inputs = torch.randn(64, 4)
    dataset = data.TensorDataset(inputs, inputs.sum(1, keepdim=True))
    with experiment.create_run():
        model = DryModel(nn.Linear(4, 1), name='lin')
        train, val = DataLoader(dataset, batch_size=16).split(0.25)
        trainer = Trainer(
            model,
            loader=train,
            loss=Loss(lambda out, y: ((out - y) ** 2).mean(1), 'MSE'),
            learning_schema=LearningSchema.adam(0.05),
        )
        trainer.add_validation(val)
        trainer.train(6)
    snapshot = panel.snapshot_html()
    for source in ('Trainer', 'Validation'):
        values = [
            float(event.metrics['MSE'])
            for event in recorder.metrics
            if event.source_name == source
        ]
        best = min(range(len(values)), key=values.__getitem__)
        final_text = f'{_fmt(values[-1])} (epoch {len(values)})'
        best_text = f'{_fmt(values[best])} (epoch {best + 1})'
        row = re.search(rf'{source}</td>.*?</tr>', snapshot, flags=re.S)
        assert row is not None
        assert final_text in row.group(0) and best_text in row.group(0)
    assert 'completed' in snapshot and '6 epochs' in snapshot


def _fmt(value: float) -> str:
    from drytorch.utils.formatting import format_number

    return format_number(value)


class _Sink:
    def write(self, text: str) -> int:
        return len(text)


_FIXED_WIDTH = re.compile(r'(?<![-\w])width:\s*\d+px')


def _without_charts(markup: str) -> str:
    markup = re.sub(r'<svg.*?</svg>', '', markup, flags=re.S)
    return re.sub(r'src="[^"]*"', '', markup)


def test_no_fixed_widths_in_the_panel_or_the_snapshot() -> None:
    state = _state_with(
        {'Trainer': [1.0, 0.5], 'Validation': [0.9, 0.6]}, 'loss'
    )
    state.end_epoch = 2
    state.epochs_done = 2
    state.training_started = 0.0
    state.progress = PassProgress('Validation', 4, 4, started=0, updated=1)
    for markup in (
        _snapshot.snapshot_html(state, 5.0),
        _render.status_html(state, 5.0),
        _summary.summary_html(state),
    ):
        assert not _FIXED_WIDTH.search(_without_charts(markup))
    assert 'overflow-x: auto' in _summary.summary_html(state)


@pytest.fixture
def shell() -> Iterator[Any]:
    """A real IPython shell whose displays are recorded."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    existed = InteractiveShell.initialized()
    config = Config()
    config.HistoryManager.hist_file = ':memory:'
    instance = InteractiveShell.instance(config=config)
    saved, count = instance.display_pub, instance.execution_count
    recorder = _Publisher()
    instance.display_pub = recorder
    yield instance, recorder
    instance.display_pub = saved
    instance.execution_count = count
    if not existed:
        InteractiveShell.clear_instance()


class _Publisher:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def publish(self, data, metadata=None, source=None, **kwargs):
        self.calls.append({'data': data, **kwargs})

    def clear_output(self, wait=False):
        pass


def test_the_training_cell_shows_a_compact_view_that_turns_static(
    shell: tuple[Any, _Publisher],
) -> None:
    instance, recorder = shell
    clock = Clock()
    panel = NotebookPanel(mode='widgets', clock=clock)
    instance.execution_count = 3  # the %drytorch_start cell
    panel.notify(events.StartRunEvent(None, 'Exp', NOW, 'run-1', tags=[]))
    (panel_display,) = recorder.calls
    view = panel.view
    assert view is not None
    panel.notify(events.StartTrainingEvent('Trainer', 'net', 0, 2))
    assert len(recorder.calls) == 1  # same cell as the panel: no copy

    instance.execution_count = 4  # the cell that trains
    panel.notify(events.StartTrainingEvent('Trainer', 'net', 0, 2))
    iterate = events.IterateBatchEvent('Trainer', 4, 10, 40)
    panel.notify(iterate)
    compact_display = recorder.calls[-1]
    assert len(recorder.calls) == 2  # one compact view for the cell
    compact_id = compact_display['data'][WIDGET_MIME]['model_id']
    assert compact_id != panel_display['data'][WIDGET_MIME]['model_id']
    (box,) = view._compacts
    assert box.children == (view.status,)  # the panel's own bars, shared
    clock.now += 1.0
    iterate.update({'loss': 0.25}, 1, 10)

    instance.events.trigger('post_run_cell', None)
    update = recorder.calls[-1]
    assert update['update'] is True
    assert update['transient'] == compact_display['transient']
    static = update['data']['text/html']
    assert '10/10' in static and 'loss=0.25' in static and 'Epoch' in static
    assert box.comm is None and view.status.comm is not None
    assert view._compacts == []


def test_log_line_of_a_model_gives_its_class_and_parameter_counts() -> None:
    from drytorch.utils.model_summary import summarize
    from drytorch_nb._text import event_line

    module = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
    module[0].requires_grad_(False)  # 40 frozen, 9 trainable
    event = events.ModelRegistrationEvent(
        'net', NOW, repr(module), summarize(module)
    )
    assert event_line(event) == (
        'Model net: Sequential, 49 parameters (9 trainable)'
    )


def test_an_interrupted_training_is_said_in_the_header_and_the_log() -> None:
    clock = Clock()
    panel = NotebookPanel(mode='text', stream=_Sink(), clock=clock)
    panel.notify(events.StartRunEvent(None, 'Exp', NOW, 'run-1', tags=[]))
    panel.notify(events.StartTrainingEvent('Trainer', 'net', 0, 5))
    panel.notify(
        events.InterruptedTrainingEvent('Trainer', 'net', 2, True, False)
    )
    snapshot = panel.snapshot_html()
    assert 'running · interrupted at epoch 2' in snapshot
    assert 'interrupted at epoch 2' in _render.log_html(panel._state.log)
    # training again in the next cell clears it
    panel.notify(events.StartTrainingEvent('Trainer', 'net', 2, 4))
    assert 'interrupted' not in _render.header_html(panel._state)


QUOTED = '"><img src=x onerror="alert(1)"><b title=\'x\'>'


def test_quotes_and_markup_in_names_stay_text_in_attributes_and_folds() -> (
    None
):
    import html.parser

    from drytorch.utils.model_summary import summarize

    class Tags(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[tuple[str, dict[str, str | None]]] = []
            self.text: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

        def handle_data(self, data):
            self.text.append(data)

    # a nested module under a ModuleDict key: its fold's <summary> heading
    module = nn.ModuleDict({QUOTED: nn.Sequential(nn.Linear(2, 2))})
    panel = NotebookPanel(mode='text', stream=_Sink())
    panel.notify(events.StartRunEvent(None, QUOTED, NOW, 'run', tags=[]))
    panel.notify(
        events.ModelRegistrationEvent(
            'net', NOW, repr(module), summarize(module)
        )
    )
    panel.notify(events.MetricEvent('net', QUOTED, 1, {QUOTED: 1.0}))
    snapshot = panel.snapshot_html()
    parser = Tags()
    parser.feed(snapshot)
    names = [tag for tag, _ in parser.tags]
    assert 'b' not in [t for t, a in parser.tags if 'title' in a]
    for tag, attrs in parser.tags:
        assert not any(name.startswith('on') for name in attrs), tag
    images = [attrs for tag, attrs in parser.tags if tag == 'img']
    assert len(images) == 1  # the chart, and no injected image
    assert images[0]['alt'] == QUOTED and images[0]['title'] == QUOTED
    text = ''.join(parser.text)
    assert text.count(QUOTED) >= 3  # header, summary rows, model fold
    assert names.count('img') == 1
    folds = re.findall(r'<summary[^>]*>(.*?)</summary>', snapshot, re.S)
    assert any(html_escape(QUOTED) in fold for fold in folds)


def html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)
