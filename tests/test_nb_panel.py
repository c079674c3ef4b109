"""Tests of drytorch_nb.panel: the notebook panel tracker, in process.

Events are real log_events values; end-to-end tests drive a real Experiment
run with a tiny Trainer. The widget tree is inspected directly, and the
messages it would send to a browser are counted at ``Widget._send`` (every
state update goes through it, whether or not a frontend is attached).
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import html.parser
import io
import math
import sys
import types
import xml.etree.ElementTree
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional
from torch.utils import data

from drytorch import (
    DataLoader,
    Experiment,
    LearningSchema,
    Loss,
    Model,
    Trainer,
)
from drytorch.core import log_events
from drytorch_nb import _env, _render, _svg
from drytorch_nb._state import Series
from drytorch_nb.panel import NotebookPanel

ipywidgets = pytest.importorskip('ipywidgets')

XSS = '<img src=x onerror=alert(1)>'

# ipywidgets 7 records no update without a kernel: counting needs 8 (the
# bench counts messages of both versions in a real kernel)
counts_updates = pytest.mark.skipif(
    (_env.widgets_version() or (0,)) < (8,),
    reason='ipywidgets 7 sends no update outside a kernel',
)
NOW = datetime.datetime(2026, 1, 1)

ARCH = """Sequential(
  (0): Linear(in_features=2, out_features=3, bias=True)
  (1): ReLU()
  (2): Sequential(
    (0): Linear(in_features=3, out_features=1, bias=True)
  )
)"""


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclasses.dataclass(frozen=True)
class XssConfig:
    lr: float = 0.01
    note: str = XSS


class TagCollector(html.parser.HTMLParser):
    """Collects start tags with their attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def parse(markup: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(markup)
    collector.close()
    return collector


SVG_URI = _svg.DATA_URI_PREFIX


def chart_images(markup: str) -> list[str]:
    """The SVG documents of the snapshot's chart images."""
    svgs = []
    for tag, attrs in parse(markup).tags:
        if tag == 'img':
            src = dict(attrs)['src'] or ''
            assert src.startswith(SVG_URI)  # no other image, no URL
            svgs.append(_svg.svg_of_data_uri(src))
    return svgs


def assert_escaped(markup: str) -> None:
    """The payload shows as text and creates no element or handler."""
    parsed = parse(markup)
    for tag, attrs in parsed.tags:
        assert not any(name.startswith('on') for name, _ in attrs)
        if tag == 'img':  # a chart: an SVG image, never the payload
            assert dict(attrs)['src'].startswith(SVG_URI)
    assert XSS in ''.join(parsed.text)
    for svg in chart_images(markup):
        # well-formed XML whose texts hold the payload as text
        root = xml.etree.ElementTree.fromstring(svg)
        assert not [el for el in root.iter() if el.tag.endswith('img')]


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every state update a widget sends (what reaches the browser)."""
    sent: list[dict[str, Any]] = []
    original = ipywidgets.Widget._send

    def counting(self, msg, buffers=None):
        sent.append(msg)
        return original(self, msg, buffers)

    monkeypatch.setattr(ipywidgets.Widget, '_send', counting)
    return sent


class RecordingPublisher:
    """Replaces the shell's display publisher: keeps what is published."""

    def __init__(self, shell: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        self.shell = shell

    def end_cell(self) -> None:
        """What IPython does when a cell ends."""
        self.shell.events.trigger('post_run_cell', None)

    def publish(self, data, metadata=None, source=None, **kwargs):
        self.calls.append({'data': data, **kwargs})

    def clear_output(self, wait=False):
        pass


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # tiny models: extra intra-op threads only add contention
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def shell() -> Iterator[Any]:
    """A real (non-kernel) IPython shell whose displays are recorded."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    existed = InteractiveShell.initialized()
    config = Config()
    config.HistoryManager.hist_file = ':memory:'
    instance = InteractiveShell.instance(config=config)
    saved = instance.display_pub
    recorder = RecordingPublisher(instance)
    instance.display_pub = recorder
    yield recorder
    instance.display_pub = saved
    if not existed:
        InteractiveShell.clear_instance()


def start_event(
    exp_name: str = 'Exp', run_id: str = 'run-1', config: Any = None
) -> log_events.StartExperimentEvent:
    return log_events.StartExperimentEvent(
        config=config,
        exp_name=exp_name,
        run_ts=NOW,
        run_id=run_id,
        tags=['t1'],
    )


def stop_event(status: str = 'completed') -> log_events.StopExperimentEvent:
    return log_events.StopExperimentEvent('Exp', 'run-1', status)


def feed_training(
    panel: NotebookPanel,
    clock: Clock,
    epochs: int = 3,
    n_iter: int = 10,
    step_s: float = 0.01,
    metric: str = 'loss',
) -> None:
    """Events of a training with validation, as the library publishes them."""
    panel.notify(log_events.ModelRegistrationEvent('net', NOW, ARCH))
    panel.notify(log_events.StartTrainingEvent('Trainer', 'net', 0, epochs))
    for epoch in range(1, epochs + 1):
        panel.notify(
            log_events.StartEpochEvent('Trainer', 'net', epoch, epochs)
        )
        for source in ('Trainer', 'Validation'):
            iterate = log_events.IterateBatchEvent(source, 4, n_iter, 40)
            panel.notify(iterate)
            if epoch == 1:
                panel.notify(
                    log_events.ActorRegistrationEvent(
                        source, NOW, 'net', NOW, {'lr': 0.1}
                    )
                )
            for _ in range(n_iter):
                clock.advance(step_s)
                iterate.update({metric: 1.0 / epoch}, 1, 1)
            panel.notify(
                log_events.MetricEvent(
                    'net', source, epoch, {metric: 1.0 / epoch}
                )
            )
        panel.notify(log_events.EndEpochEvent('Trainer', 'net', epoch))
    panel.notify(log_events.EndTrainingEvent('Trainer'))


def widget_texts(panel: NotebookPanel) -> list[str]:
    """Every text of the live panel a frontend could read as HTML."""
    view = panel.view
    assert view is not None
    texts: list[str] = []
    for widget in view.iter_widgets():
        if widget is view.log:
            # a stream output: the frontend shows it as text, never HTML
            assert {out['output_type'] for out in widget.outputs} <= {'stream'}
            continue
        for name, value in widget.get_state().items():
            if name.startswith('_model') or name.startswith('_view'):
                continue
            texts.append(repr(value))
    return texts


# ----------------------------------------------------------------- widgets


def test_constructs_without_arguments_and_validates_knobs() -> None:
    panel = NotebookPanel()
    assert (panel.progress_hz, panel.chart_hz) == (4.0, 1.0)
    assert panel.widget is None
    with pytest.raises(ValueError, match='progress_hz'):
        NotebookPanel(progress_hz=0)
    with pytest.raises(TypeError, match='chart_hz'):
        NotebookPanel(chart_hz='1')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='max_points'):
        NotebookPanel(max_points=1)
    with pytest.raises(ValueError, match='mode'):
        NotebookPanel(mode='html')  # type: ignore[arg-type]


def test_widget_tree_shows_header_progress_models_actors_and_charts() -> None:
    clock = Clock()
    panel = NotebookPanel(mode='widgets', clock=clock)
    panel.notify(start_event(config={'lr': 0.01}))
    feed_training(panel, clock)
    view = panel.view
    assert view is not None
    assert view.root.children[0] is view.header
    assert view.titles(view.tabs) == ['Metrics', 'Model', 'Actors', 'Log']
    assert 'Exp' in view.header.value and 'run-1' in view.header.value
    assert 'running' in view.header.value and 'lr' in view.header.value
    status = view.status.value
    assert 'aria-valuenow="3" aria-valuemax="3"' in status  # epochs
    assert 'aria-valuenow="10" aria-valuemax="10"' in status  # batches
    assert '>Validation<' in status
    assert '3/3' in status and '10/10' in status
    assert view.titles(view.models) == ['net']
    assert view.models.selected_index == 0
    arch = view.models.children[0].value
    assert arch.count('<details') == 2  # Sequential and the inner one
    assert 'Linear(in_features=3, out_features=1, bias=True)' in arch
    assert view.titles(view.actors) == ['Trainer (net)', 'Validation (net)']
    assert 'lr' in view.actors.children[0].value
    charts = view.charts.value
    assert charts.count('<polyline') == 2  # training and validation
    assert '>Trainer<' in charts and '>Validation<' in charts
    log = view.log.outputs[0]['text']
    assert 'Validation epoch 3: loss=0.3333' in log


def test_batch_bar_follows_the_runner_callback() -> None:
    clock = Clock()
    panel = NotebookPanel(mode='widgets', clock=clock)
    panel.notify(start_event())
    iterate = log_events.IterateBatchEvent('Trainer', 4, 100, 400)
    panel.notify(iterate)
    assert len(iterate.push_updates) == 1
    clock.advance(1.0)
    iterate.update({'loss': 0.5}, 1, 40)
    view = panel.view
    assert view is not None
    status = view.status.value
    assert 'aria-valuenow="40" aria-valuemax="100"' in status
    # 40 batches in 1 s: the rate, the time spent and the time left
    assert '40/100  40it/s  00:01&lt;00:02' in status
    assert 'loss=0.5' in status
    clock.advance(1.0)
    iterate.update({}, 1, 500)  # the count never passes the pass' length
    assert 'aria-valuenow="100" aria-valuemax="100"' in view.status.value


@counts_updates
def test_updates_are_throttled_to_at_most_10_messages_per_second(
    sends: list[dict[str, Any]],
) -> None:
    clock = Clock()
    panel = NotebookPanel(mode='widgets', clock=clock)
    panel.notify(start_event())
    sends.clear()  # creation travels with comm_open, not as updates
    # 2,000 steps of 1 ms: 20 epochs of 100 batches, a callback per batch
    # (more often than the runner calls it), metrics every epoch
    feed_training(panel, clock, epochs=20, n_iter=50, step_s=0.001)
    seconds = 20 * 2 * 50 * 0.001
    assert seconds == pytest.approx(2.0)
    assert len(sends) <= 10 * seconds
    states = [msg['state'] for msg in sends if msg.get('method') == 'update']
    assert any('value' in state for state in states)  # bars did move


@counts_updates
def test_a_real_training_sends_at_most_10_messages_per_second(
    sends: list[dict[str, Any]],
) -> None:
    # A real Trainer on a simulated clock: every forward pass of the model
    # takes exactly 1 ms, however often the panel reads the clock, and the
    # runner reports progress every few batches whatever the wall clock
    # says, so the count is the same on every machine, busy or not. (The
    # wall-time figure, in a real kernel, is bench/panel_update.py's.)
    clock = Clock()
    panel = NotebookPanel(mode='widgets', clock=clock)
    experiment = Experiment(None, name='Throttle', par_dir='out')
    experiment.trackers.subscribe(panel)
    torch.manual_seed(0)
    dataset = data.TensorDataset(torch.randn(3200, 32), torch.randn(3200, 10))
    with experiment.create_run():
        start = clock.now
        trainer = _trainer(dataset)
        trainer.progress_hz = math.inf
        trainer.model.module.register_forward_hook(
            lambda *_: clock.advance(0.001)
        )
        trainer.train(20)  # 2,000 steps of a 32-64-10 MLP, batch 32
        elapsed = clock.now - start
    assert elapsed == pytest.approx(2.0)  # one tick per step, no other
    # far fewer than one message per step: the bars did move, throttled
    assert 0 < len(sends) <= 10 * elapsed


def _trainer(dataset: data.Dataset, val: data.Dataset | None = None):
    module = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    model = Model(module, name='mlp')
    loss = Loss(functional.mse_loss, name='MSE')
    trainer = Trainer(
        model,
        loader=DataLoader(dataset, 32),
        loss=loss,
        learning_schema=LearningSchema(torch.optim.Adam, 1e-3),
    )
    if val is not None:
        trainer.add_validation(DataLoader(val, 32))
    return trainer


def test_progress_callback_does_no_drawing_between_flushes(
    sends: list[dict[str, Any]],
) -> None:
    clock = Clock()
    panel = NotebookPanel(mode='widgets', clock=clock)
    panel.notify(start_event())
    iterate = log_events.IterateBatchEvent('Trainer', 4, 1000, 4000)
    panel.notify(iterate)
    clock.advance(1.0)
    iterate.update({'loss': 1.0}, 1, 1)
    sends.clear()
    for _ in range(100):  # all within one progress period
        clock.advance(0.001)
        iterate.update({'loss': 1.0}, 1, 1)
    assert sends == []


def test_log_and_curves_stay_bounded() -> None:
    clock = Clock()
    panel = NotebookPanel(mode='widgets', clock=clock, max_points=50)
    panel.notify(start_event())
    for epoch in range(1, 5001):
        clock.advance(0.01)
        panel.notify(
            log_events.MetricEvent('net', 'Trainer', epoch, {'loss': 1.0})
        )
    panel.notify(log_events.EndTrainingEvent('Trainer'))
    view = panel.view
    assert view is not None
    assert len(view.log.outputs) == 1
    assert view.log.outputs[0]['text'].count('\n') <= 200
    (polyline,) = [
        attrs
        for tag, attrs in parse(view.charts.value).tags
        if tag == 'polyline'
    ]
    points = dict(polyline)['points']
    assert points is not None
    assert len(points.split()) <= 51
    assert len(panel.snapshot_html()) < 50_000


# ---------------------------------------------------------------- escaping


def test_untrusted_text_is_escaped_everywhere() -> None:
    clock = Clock()
    panel = NotebookPanel(mode='widgets', clock=clock)
    panel.notify(
        log_events.StartExperimentEvent(
            config=XssConfig(),
            exp_name=XSS,
            run_ts=NOW,
            run_id=XSS,
            tags=[XSS],
        )
    )
    panel.notify(log_events.ModelRegistrationEvent(XSS, NOW, XSS))
    panel.notify(
        log_events.ModelRegistrationEvent('net', NOW, f'Net(\n  {XSS}\n)')
    )
    panel.notify(
        log_events.ActorRegistrationEvent(
            XSS, NOW, XSS, NOW, {XSS: XSS, 'nested': {'deep': [XSS]}}
        )
    )
    panel.notify(log_events.StartTrainingEvent(XSS, XSS, 0, 2))
    iterate = log_events.IterateBatchEvent(XSS, 4, 10, 40)
    panel.notify(iterate)
    clock.advance(1.0)
    iterate.update({XSS: 1.0}, 1, 5)
    panel.notify(log_events.MetricEvent(XSS, XSS, 1, {XSS: 1.0}))
    panel.notify(log_events.EndTrainingEvent(XSS))
    view = panel.view
    assert view is not None
    for widget in (view.header, view.status, view.charts):
        assert_escaped(widget.value)
    for child in (*view.models.children, *view.actors.children):
        assert_escaped(child.value)
    # no widget state carries markup a frontend could interpret: HTML
    # values are escaped, titles and descriptions use look-alikes
    for text in widget_texts(panel):
        assert '<img' not in text
    assert XSS.replace('<', '\u2039').replace('>', '\u203a') in (
        view.titles(view.models)
    )
    snapshot = panel.snapshot_html()
    assert_escaped(snapshot)
    assert XSS not in snapshot
    (chart,) = chart_images(snapshot)
    assert XSS not in chart and html.escape(XSS) in chart


def test_metric_names_that_break_format_strings_are_shown_verbatim() -> None:
    # a metric name is text, never part of a format string: ')' and '%'
    # in it reach the log line and the snapshot unchanged
    clock = Clock()
    stream = io.StringIO()
    panel = NotebookPanel(mode='text', stream=stream, clock=clock)
    panel.notify(start_event())
    names = {'Top-1 (%)': 0.5, 'a)b': 0.25, '%(x)s': 1.0}
    panel.notify(log_events.MetricEvent('net', 'Val', 1, names))
    assert 'Val epoch 1: Top-1 (%)=0.5  a)b=0.25  %(x)s=1' in stream.getvalue()
    snapshot = panel.snapshot_html()
    for name in names:
        assert _render._esc(name) in snapshot


# ---------------------------------------------------------------- snapshot


def test_snapshot_is_self_contained_static_html() -> None:
    clock = Clock()
    panel = NotebookPanel(mode='widgets', clock=clock)
    panel.notify(start_event(config=XssConfig()))
    feed_training(panel, clock)
    panel.notify(stop_event())
    snapshot = panel.snapshot_html()
    parsed = parse(snapshot)
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {'script', 'link', 'iframe', 'style', 'object'}
    for tag, attrs in parsed.tags:
        names = {name for name, _ in attrs}
        assert 'href' not in names, tag
        assert tag == 'img' or 'src' not in names, tag
        assert not any(name.startswith('on') for name in names), tag
    # nothing to fetch: the only URI is the SVG namespace, an identifier
    namespace = _svg.data_uri('xmlns="http://www.w3.org/2000/svg"')
    namespace = namespace.removeprefix(SVG_URI)
    assert 'http' not in snapshot.replace(namespace, '')
    text = ''.join(parsed.text)
    for section in ('Metrics', 'Model', 'Actors', 'Log', 'completed'):
        assert section in text
    (chart,) = chart_images(snapshot)  # one metric, an SVG image
    assert chart.count('<polyline') == 2  # training and validation
    assert 'widget' not in snapshot


def test_stop_replaces_the_live_panel_through_its_display_handle(
    shell: RecordingPublisher,
) -> None:
    clock = Clock()
    panel = NotebookPanel(mode='widgets', clock=clock)
    panel.notify(start_event())
    feed_training(panel, clock, epochs=2)
    view = panel.view
    assert view is not None
    widgets = view.iter_widgets()
    (shown,) = shell.calls
    display_id = shown['transient']['display_id']
    bundle = shown['data']
    widget_mime = 'application/vnd.jupyter.widget-view+json'
    assert bundle[widget_mime]['model_id'] == view.root.model_id
    assert 'text/plain' in bundle  # frontends without widgets show text

    panel.notify(stop_event('failed'))
    update = shell.calls[-1]
    assert update['update'] is True
    assert update['transient']['display_id'] == display_id
    snapshot = update['data']['text/html']
    assert widget_mime not in update['data']
    assert 'failed' in snapshot
    assert '<polyline' in chart_images(snapshot)[0]
    assert panel.widget is None
    assert all(widget.comm is None for widget in widgets)  # closed
    assert panel.snapshot_html() == snapshot


def test_a_new_run_finishes_a_panel_that_never_stopped(
    shell: RecordingPublisher,
) -> None:
    panel = NotebookPanel(mode='widgets')
    panel.notify(start_event(run_id='first'))
    first = panel.view
    panel.notify(start_event(run_id='second'))
    assert first is not None and first.closed
    assert panel.view is not None and panel.view is not first
    updates = [call for call in shell.calls if call.get('update')]
    assert len(updates) == 1 and 'first' in updates[0]['data']['text/html']


def test_end_to_end_run_with_trainer_and_validation(
    shell: RecordingPublisher,
) -> None:
    panel = NotebookPanel(mode='widgets')
    experiment = Experiment(
        XssConfig(), name='E2E', par_dir='out', tags=['demo']
    )
    experiment.trackers.subscribe(panel)
    torch.manual_seed(0)
    train = data.TensorDataset(torch.randn(64, 32), torch.randn(64, 10))
    val = data.TensorDataset(torch.randn(32, 32), torch.randn(32, 10))
    with experiment.create_run() as run:
        trainer = _trainer(train, val)
        trainer.train(3)
        shell.end_cell()  # the panel shows the state the cell left
        view = panel.view
        assert view is not None
        assert view.titles(view.models) == ['mlp']
        assert view.titles(view.actors) == [
            'Trainer (mlp)',
            'Validation (mlp)',
        ]
        assert 'aria-valuenow="3" aria-valuemax="3"' in view.status.value
    snapshot = shell.calls[-1]['data']['text/html']
    assert run.id in snapshot and 'completed' in snapshot
    # the model card: 32 * 64 + 64 + 64 * 10 + 10 parameters, the shapes
    assert '>2762</td>' in snapshot
    assert '>[32, 64]</td>' in snapshot
    (chart,) = chart_images(snapshot)
    assert chart.count('<polyline') == 2
    assert_escaped(snapshot)  # the config's note
    assert panel.widget is None


# ------------------------------------------------------------ text fallback


def test_auto_mode_outside_a_kernel_writes_one_plain_line_per_event(
    shell: RecordingPublisher,
) -> None:
    stream = io.StringIO()
    clock = Clock()
    panel = NotebookPanel(stream=stream, clock=clock)  # auto
    panel.notify(start_event(run_id='r\rid'))
    feed_training(panel, clock, epochs=2, metric='lo\rss')
    panel.notify(stop_event())
    assert panel.text_mode and panel.widget is None
    text = stream.getvalue()
    assert '\r' not in text
    lines = text.splitlines()
    assert lines[0] == 'Run r\\rid of Exp started tags=t1'
    assert 'Trainer epoch 2: lo\\rss=0.5' in lines
    assert lines[-1] == 'Run run-1 of Exp: completed'
    assert len(lines) == 11  # no line per batch, per pass or per epoch
    assert shell.calls == []  # not a kernel: nothing is displayed


def test_auto_mode_falls_back_when_widgets_cannot_reach_a_frontend(
    monkeypatch: pytest.MonkeyPatch, shell: RecordingPublisher
) -> None:
    # a kernel whose widgets get placeholder comms (ipywidgets 7.7.2+ with
    # ipykernel < 6.18) would show 'Error displaying widget': use text
    monkeypatch.setattr(_env, 'in_kernel', lambda: True)
    monkeypatch.setattr(_env, 'widgets_usable', lambda: True)
    stream = io.StringIO()
    panel = NotebookPanel(stream=stream)
    panel.notify(start_event())
    assert panel.text_mode and panel.widget is None
    panel.notify(stop_event())
    assert stream.getvalue().count('\n') == 2
    # in a notebook, the final panel is still shown, once, as static HTML
    (shown,) = shell.calls
    assert 'drytorch-snapshot' in shown['data']['text/html']
    assert 'application/vnd.jupyter.widget-view+json' not in shown['data']


def test_text_mode_without_ipywidgets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, 'ipywidgets', None)  # import fails
    assert _env.widgets_version() is None
    stream = io.StringIO()
    panel = NotebookPanel(mode='widgets', stream=stream)
    panel.notify(start_event())
    panel.notify(stop_event())
    assert panel.text_mode
    assert stream.getvalue().count('\n') == 2


def test_real_run_in_text_mode_prints_metric_lines(capsys) -> None:
    panel = NotebookPanel(mode='text')
    experiment = Experiment(None, name='Text', par_dir='out')
    experiment.trackers.subscribe(panel)
    train = data.TensorDataset(torch.randn(64, 32), torch.randn(64, 10))
    with experiment.create_run():
        _trainer(train, train).train(2)
    out = capsys.readouterr().out
    assert '\r' not in out
    assert 'Trainer epoch 2: MSE=' in out
    assert 'Validation epoch 2: MSE=' in out


# -------------------------------------------------------------- environment


def test_environment_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('VSCODE_PID', raising=False)
    monkeypatch.delenv('VSCODE_CWD', raising=False)
    assert not _env.in_kernel()
    assert _env.frontend() == 'terminal'
    assert not _env.widgets_usable()
    assert not _env.is_vscode()
    monkeypatch.setenv('VSCODE_PID', '1')
    assert _env.is_vscode()
    monkeypatch.setitem(
        sys.modules, 'google.colab', types.ModuleType('google.colab')
    )
    assert _env.is_colab()
    version = _env.widgets_version()
    assert version is not None and (7, 6) <= version[:2] < (9, 0)


def test_series_decimation_keeps_the_ends_and_stays_bounded() -> None:
    series = Series(max_points=10)
    for x in range(1000):
        series.append(float(x), float(x))
    points = series.points()
    assert len(points) <= 11
    assert points[0] == (0.0, 0.0) and points[-1] == (999.0, 999.0)
    xs = [x for x, _ in points]
    assert xs == sorted(xs)
