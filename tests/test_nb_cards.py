"""Model and actor cards: panel, snapshot and %drytorch_status."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
import torch
from conftest import Config
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core.experiment import Experiment
from drytorch.lib.hooks import EarlyStoppingCallback, Hook
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss, Metric
from drytorch.lib.train import Trainer
from drytorch.utils import model_summary
from drytorch_nb import _actor_card, _commands, _model_card
from drytorch_nb.panel import NotebookPanel

XSS = '<b>"x"</b>'
LEFT = 'style="text-align:left"'
XSS_ESCAPED = '&lt;b&gt;&quot;x&quot;&lt;/b&gt;'


class OddCallable:
    """A hook whose repr is markup."""

    def __call__(self, trainer: object) -> None:
        pass

    def __repr__(self) -> str:
        return XSS


def net_with_odd_names() -> nn.Sequential:
    net = nn.Sequential(
        nn.Linear(4, 8),
        nn.BatchNorm1d(8),
        nn.Sequential(nn.ReLU(), nn.Linear(8, 1)),
    )
    net[2].add_module(XSS, nn.Identity())
    net[0].requires_grad_(False)
    return net


def mse_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets) ** 2).mean(dim=1)


def mae_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (outputs - targets).abs().mean(dim=1)


def data(n: int = 64) -> TensorDataset:
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    return TensorDataset(x, x.sum(dim=1, keepdim=True))


def trainer_for(model: Model) -> Trainer:
    train, val = DataLoader(data(), batch_size=16).split(0.25)
    trainer = Trainer(
        model,
        loader=train,
        loss=Loss(mse_fn, 'MSE') | Metric(mae_fn, 'MAE'),
        learning_schema=LearningSchema.adam(0.01),
    )
    trainer.add_validation(val)
    trainer.post_epoch_hooks.register(EarlyStoppingCallback(patience=5))
    trainer.post_epoch_hooks.register(Hook(OddCallable()))
    return trainer


def test_model_card_html_is_escaped_bounded_and_themed() -> None:
    summary = model_summary.summarize(net_with_odd_names())
    card = _model_card.model_card_html(summary, 'net')
    assert XSS not in card
    assert f'>2.{XSS_ESCAPED}</td>' in card
    assert 'overflow-x: auto' in card
    assert not re.search(r'width:\s*\d+px', card)  # no fixed pixel widths
    assert 'var(--jp-ui-font-color1' in card
    assert 'var(--jp-border-color2' in card
    assert card.count('<details') == 1  # the nested Sequential folds
    # 40 frozen + 16 + 9 trainable; 16 float buffers and one int64
    assert '>65</td>' in card and '>25</td>' in card and '>40</td>' in card
    assert '332 B = float32 324 B' in card


def test_model_card_text_lists_layers_and_says_what_was_cut() -> None:
    deep = nn.Sequential(*[nn.Linear(2, 2) for _ in range(200)])
    text = _model_card.model_card_text(model_summary.summarize(deep), 'deep')
    lines = text.splitlines()
    assert lines[0] == 'Model deep (Sequential)'
    assert re.search(r'Parameters\s+1200\n', text)
    assert '50 more modules not listed' in text
    assert sum(' Linear ' in line for line in lines) == 150
    html_card = _model_card.model_card_html(
        model_summary.summarize(deep), 'deep'
    )
    assert '50 more modules not listed' in html_card


def test_clean_metadata_shows_repeated_trees_once() -> None:
    loader = {'class': 'DataLoader', 'dataset': 'Array of size (9,)\n[1 2]'}
    metadata = {
        'loader': loader,
        'hooks': [{'class': 'StaticHook', 'wrapped': {'loader': loader}}],
        'lr': 1e-8,
    }
    cleaned = _actor_card.clean_metadata(metadata)
    assert cleaned['loader']['dataset'] == 'Array of size (9,) …'
    assert cleaned['hooks']['0']['wrapped']['loader'] == '(same as loader)'
    assert cleaned['lr'] == '1e-08'
    assert _actor_card.metadata_text(cleaned).splitlines()[:3] == [
        'loader:',
        '  class: DataLoader',
        '  dataset: Array of size (9,) …',
    ]


@pytest.fixture
def experiment(config: Config) -> Experiment:
    return Experiment(config, name='Cards', tags=[XSS])


def test_panel_cards_after_two_epochs(experiment: Experiment) -> None:
    panel = NotebookPanel(mode='widgets')
    experiment.trackers.subscribe(panel)
    with experiment.create_run():
        model = Model(net_with_odd_names(), name='net')
        trainer = trainer_for(model)
        trainer.train(2)
        view = panel.view
        assert view is not None
        panel.flush()
        model_fold = view.models.children[0].value
        trainer_fold = view.actors.children[0].value
    # the live model fold got the shapes of the first batch (16 samples)
    assert '>[16, 8]</td>' in model_fold and '>[16, 1]</td>' in model_fold
    assert XSS_ESCAPED in model_fold and XSS not in model_fold
    # the live trainer fold was redrawn at the end of the training
    assert re.search(r'>Epochs done</b></td><td[^>]*>2</td>', trainer_fold)
    snapshot = panel.snapshot_html()
    trainer_card = snapshot[snapshot.index('Trainer (net)') :]
    trainer_card = trainer_card[: trainer_card.index('Validation (net)')]
    for label, value in (
        ('Epochs done', '2'),
        ('Optimizer', 'Adam (betas=(0.9, 0.999))'),
        ('Learning rate', '0.01'),
        ('Batch size', '16'),
        ('Batches per pass', '3'),
        ('Loss', 'MSE'),
        ('Metrics', 'MAE'),
    ):
        assert re.search(
            rf'>{label}</b></td><td[^>]*>{re.escape(value)}</td>', trainer_card
        ), label
    assert 'EarlyStoppingCallback(' in trainer_card
    assert f'>Post-epoch hook</b></td><td {LEFT}>Hook({XSS_ESCAPED})</td>' in (
        trainer_card
    )
    assert XSS not in snapshot
    # the raw metadata: folded, the data preview once, no stale epoch
    assert '<summary style="cursor: pointer;">All metadata</summary>' in (
        trainer_card
    )
    assert trainer_card.count('Array of size (64, 4)') == 1
    assert 'autocast' not in trainer_card
    assert not re.search(r'^\s*epoch:', trainer_card, re.MULTILINE)
    assert re.search(r'^  batch_size: 16$', trainer_card, re.MULTILINE)
    assert '>[16, 8]</td>' in snapshot  # the model card with its shapes


@dataclasses.dataclass(frozen=True)
class Settings:
    lr: float = 0.01


def test_status_shows_epoch_elapsed_metrics_and_the_model_card() -> None:
    experiment = Experiment(Settings(), name='Status')
    with experiment.create_run(record=False):
        model = Model(net_with_odd_names(), name='net')
        trainer = trainer_for(model)  # actors are held weakly: keep it
        trainer.train(2)
        report = _commands.status()
        text = report.to_text()
        html_text = report._repr_html_()
    assert re.search(r'Epoch\s+2\n', text)
    assert re.search(r'Elapsed\s+\d\d:\d\d', text)
    assert re.search(r'net\s+Trainer @ 2\s+MSE=[0-9.]+, MAE=[0-9.]+', text)
    assert re.search(r'net\s+Validation @ 2\s+MSE=[0-9.]+', text)
    assert 'Model net (Sequential)' in text
    assert re.search(r'Parameters\s+65\n', text)
    assert re.search(r'Trainable\s+25\n', text)
    assert re.search(r'Frozen\s+40\n', text)
    assert re.search(r'2\.1\s+Linear\s+\[16, 1\]\s+9\s+9', text)
    assert 'Recorded' not in text
    assert 'Frontend' not in text
    assert 'drytorch-model-card' in html_text
    assert XSS_ESCAPED in html_text and XSS not in html_text


def test_text_mode_panel_keeps_cards_without_widgets(
    experiment: Experiment,
) -> None:
    panel = NotebookPanel(mode='text', stream=io.StringIO())
    experiment.trackers.subscribe(panel)
    with experiment.create_run():
        trainer_for(Model(net_with_odd_names(), name='net')).train(1)
    snapshot = panel.snapshot_html()
    assert re.search(r'>Epochs done</b></td><td[^>]*>1</td>', snapshot)
    assert '>[16, 8]</td>' in snapshot


def test_a_model_built_again_keeps_one_card(experiment: Experiment) -> None:
    panel = NotebookPanel(mode='widgets')
    experiment.trackers.subscribe(panel)
    module = net_with_odd_names()
    with experiment.create_run():
        Model(module, name='net')
        panel.flush()
        module[2].requires_grad_(False)  # the cell changed, then ran again
        model = Model(module, name='net')
        panel.flush()
        view = panel.view
        assert view is not None
        assert view.titles(view.models) == ['net']
        card = view.models.children[0].value
        assert model.summary().trainable_params == 16
    assert re.search(r'>Trainable</b></td><td[^>]*>16</td>', card)


def test_layers_the_forward_did_not_call_say_so() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    summary = model_summary.summarize(net)
    before = _model_card.model_card_text(summary, 'net')
    assert re.search(r'\n  0\s+Linear\s+\?\s+6\s+6\n', before)
    ran = summary.with_shapes(
        {'0': '[1, 2]', '': '[1, 2]'}, '[1, 2]', '[1, 2]'
    )
    text = _model_card.model_card_text(ran, 'net')
    assert re.search(r'\n  0\s+Linear\s+\[1, 2\]\s+6\s+6\n', text)
    assert re.search(r'\n  1\s+Linear\s+not called\s+6\s+6$', text)
    assert '>not called</td>' in _model_card.model_card_html(ran, 'net')
