"""The %drytorch_compare HTML in a real browser, at 1400 and 700 px.

The comparison is static HTML: it is loaded into Chromium as a page that
stands for a notebook's output area (light, then dark colours), and the
layout is measured: nothing sticks out of the page, the wide table scrolls
inside its own box, the charts scale to their column, text follows the
theme's colour.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import drytorch_nb
from drytorch.core.experiment import Experiment
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss, Metric
from drytorch.lib.train import Trainer
from drytorch.trackers.history import HistoryWriter

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHROMIUM = pathlib.Path('/usr/bin/chromium')

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
body {{ margin: 0; font-family: sans-serif; {theme} }}
.output {{ padding: 0 8px; }}
</style></head>
<body><div class="output">{body}</div></body></html>
"""
LIGHT = 'background: #ffffff; color: rgb(20, 20, 20);'
DARK = (
    'background: #111111; color: rgb(230, 230, 230); '
    '--jp-success-color1: rgb(0, 200, 0);'
)


@dataclasses.dataclass(frozen=True)
class Config:
    learning_rate: float = 0.01
    hidden_width_of_the_first_layer: int = 8
    a_rather_long_configuration_name: str = 'value'


def _train(experiment: Experiment[Config], run_id: str) -> None:
    torch.manual_seed(0)
    inputs = torch.randn(32, 3)
    loader = DataLoader(
        TensorDataset(inputs, inputs.sum(dim=1, keepdim=True)), batch_size=8
    )
    width = experiment.config.hidden_width_of_the_first_layer
    with experiment.create_run(run_id=run_id):
        trainer = Trainer(
            Model(
                nn.Sequential(nn.Linear(3, width), nn.Linear(width, 1)),
                name='Net',
            ),
            loader=loader,
            loss=Loss(nn.functional.mse_loss, 'Mean Squared Error')
            | Metric(lambda o, t: (o - t).abs().mean(), 'Mean Abs Error'),
            learning_schema=LearningSchema.adam(
                experiment.config.learning_rate
            ),
        )
        trainer.add_validation(loader)
        trainer.train(4)


@pytest.fixture(scope='module')
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f'no Chromium at {CHROMIUM}')
    sync_api = pytest.importorskip('playwright.sync_api')
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=['--no-sandbox']
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def comparison_html(tmp_path: pathlib.Path) -> str:
    experiments = []
    for index in range(4):
        config = Config(
            learning_rate=0.01 * (index + 1),
            hidden_width_of_the_first_layer=8 * (index + 1),
            a_rather_long_configuration_name=f'value number {index}',
        )
        experiment = Experiment(config, name=f'Exp{index}', par_dir=tmp_path)
        experiment.trackers.subscribe(HistoryWriter())
        _train(experiment, f'a-long-run-identifier-{index}')
        experiments.append(experiment)
    return drytorch_nb.compare_runs(*experiments)._repr_html_()


_MEASURE = """() => {
    const table = document.querySelector('.drytorch-compare table');
    const box = table.parentElement;
    const svgs = [...document.querySelectorAll('.drytorch-compare svg')];
    return {
        pageWidth: document.documentElement.scrollWidth,
        viewWidth: document.documentElement.clientWidth,
        boxClient: box.clientWidth,
        boxScroll: box.scrollWidth,
        boxRight: box.getBoundingClientRect().right,
        svgs: svgs.map(svg => {
            const rect = svg.getBoundingClientRect();
            const parent = svg.parentElement.getBoundingClientRect();
            return {width: rect.width, right: rect.right,
                    parentRight: parent.right};
        }),
        textFill: getComputedStyle(svgs[0].querySelector('text')).fill,
        bodyColor: getComputedStyle(document.body).color,
        statusColor: getComputedStyle(
            document.querySelector('.drytorch-compare td span')).color,
    };
}"""


@pytest.mark.parametrize('width', [1400, 700])
@pytest.mark.parametrize('theme', ['light', 'dark'])
def test_comparison_fits_the_output_area(
    browser: Any, comparison_html: str, width: int, theme: str
) -> None:
    page = browser.new_page(viewport={'width': width, 'height': 900})
    try:
        page.set_content(
            PAGE.format(
                theme=LIGHT if theme == 'light' else DARK,
                body=comparison_html,
            )
        )
        measured = page.evaluate(_MEASURE)
    finally:
        page.close()
    assert measured['pageWidth'] <= measured['viewWidth'], measured
    assert measured['boxRight'] <= measured['viewWidth'], measured
    if width == 700:  # the wide table scrolls inside its box
        assert measured['boxScroll'] > measured['boxClient'], measured
    assert len(measured['svgs']) == 2
    for svg in measured['svgs']:
        assert svg['width'] > 150
        assert svg['right'] <= svg['parentRight'] + 0.5
    assert measured['textFill'] == measured['bodyColor']
    if theme == 'dark':
        assert measured['statusColor'] == 'rgb(0, 200, 0)'
