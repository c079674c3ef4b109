"""A drytorch Trainer against the hand-written loop, in one process.

Only the public API shared by this project and the reference
(drytorch 0.1.0rc5) is used, so the same code measures whichever
``drytorch`` the interpreter imports: ours from bench/train_step.py, the
reference from bench/_ref_step.py in its own virtual environment.

A block times the hand loop and ``trainer.train(1)`` alternately, inside one
run. The run's trackers are either none or the defaults of
``init_trackers('standard')``; their output goes to the null device, so
that drawing in a terminal does not weigh on the loop.

The other drytorch benchmarks build their trainer and choose their trackers
with :func:`case_trainer` and :func:`use_default_trackers` too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import _common
from torch.utils import data

import drytorch


def use_default_trackers(standard: bool) -> None:
    """The trackers of ``init_trackers('standard')``, or none."""
    if standard:
        drytorch.init_trackers('standard')
    else:
        drytorch.remove_all_default_trackers()


def case_trainer(
    case: _common.Case,
    dataset: data.Dataset,
    learning_schema: drytorch.LearningSchema | None = None,
) -> drytorch.Trainer:
    """A Trainer of the case's network ('Net', not compiled) and loss.

    Adam at the benchmarks' rate unless another schema is given; call it
    inside a run.
    """
    if learning_schema is None:
        learning_schema = drytorch.LearningSchema.adam(_common.LR)
    model = drytorch.Model(
        _common.make_module(case), name='Net', should_compile=False
    )
    return drytorch.Trainer(
        model,
        loader=drytorch.DataLoader(dataset, case.batch_size),
        loss=drytorch.Loss(case.loss_fn(), 'Loss'),
        learning_schema=learning_schema,
    )


def measure_block(
    case: _common.Case, repeats: int, standard: bool
) -> dict[str, list[float]]:
    """Epoch times of the hand loop and of a Trainer, alternated.

    Args:
        case: the network, batch size and loss.
        repeats: how many epochs of each are timed.
        standard: subscribe the 'standard' default trackers; else none.

    Returns:
        The epoch durations, under 'hand' and 'trainer'.
    """
    dataset = _common.make_dataset(case)
    hand = _common.HandLoop(case, dataset)
    with tempfile.TemporaryDirectory() as par_dir, _common.quiet():
        use_default_trackers(standard)
        experiment = drytorch.Experiment(None, name='Bench', par_dir=par_dir)
        with experiment.create_run(record=False):
            trainer = case_trainer(case, dataset)

            def train_epoch() -> None:
                trainer.train(1)

            return _common.interleave(
                {'hand': hand.epoch, 'trainer': train_epoch}, repeats
            )


def rows(
    case: _common.Case, repeats: int, label: str
) -> Iterator[dict[str, object]]:
    """Rows of both blocks (no trackers, then the standard ones)."""
    for standard in (False, True):
        times = measure_block(case, repeats, standard)
        trackers = 'standard trackers' if standard else 'no trackers'
        yield from _common.summarize(
            case,
            times,
            'hand',
            {
                'hand': f'hand loop ({label}, {trackers} block)',
                'trainer': f'{label} Trainer, {trackers}',
            },
        )
