"""Host synchronizations per training and validation step.

Usage:
    python bench/host_syncs.py [--python /tmp/venv-ref/bin/python]

On an accelerator, bringing a tensor's value to the host (``item``,
``tolist``, ``cpu``, ``numpy``, ``bool(t)``, ``float(t)``, ``int(t)``,
formatting) waits for every queued kernel: one per step is enough to keep
the device idle while Python prepares the next batch. On CPU such a call
costs little, but it can be counted: each of these Tensor methods is
replaced by a counting wrapper while an epoch runs (the counter of the
tests, ``tests/host_sync_counter.py``).

The optimizer is SGD: torch's Adam reads its step counter with ``item()``
once per parameter (a CPU tensor, so no device sync), which would be
counted against the loop; the hand-written loop, counted the same way,
shows what torch itself does.

The end of an epoch may sync (the epoch's metrics reach the host once). To
leave it out, the same epoch is counted with 16 and with 64 batches: the
difference divided by 48 is the count per step, and what remains is the
fixed count of the epoch. Without trackers and with the trackers of
``init_trackers('standard')`` (output to the null device).

With ``--python``, the script runs itself under another interpreter (for
instance the reference, drytorch 0.1.0rc5, in its own virtual environment)
and prints that environment's figures after ours: it only uses the public
API that both share.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys
import tempfile

import _common
import _drytorch_variants
import torch

import drytorch

# One counter for the bench and the regression tests (tests/test_host_syncs.py
# asserts on the same calls): it lives with the tests, which CI runs, and
# imports torch only, so that it also runs under the reference's interpreter.
sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / 'tests'))
from host_sync_counter import count_host_syncs

SHORT, LONG = 16, 64


def _epoch_syncs(n_batches: int, standard: bool) -> tuple[int, int]:
    """Syncs of one training epoch and of one validation pass."""
    case = dataclasses.replace(_common.CASES['tiny'], n_batches=n_batches)
    dataset = _common.make_dataset(case)
    with tempfile.TemporaryDirectory() as par_dir, _common.quiet():
        _drytorch_variants.use_default_trackers(standard)
        experiment = drytorch.Experiment(None, name='Syncs', par_dir=par_dir)
        with experiment.create_run(record=False):
            trainer = _drytorch_variants.case_trainer(
                case,
                dataset,
                drytorch.LearningSchema(torch.optim.SGD, _common.LR),
            )
            validation = drytorch.Validation(
                trainer.model, loader=trainer.loader, metric=trainer.objective
            )
            # the first calls document the actors: not part of a step
            trainer.train(1)
            validation()
            with count_host_syncs() as counts:
                trainer.train(1)
            training = sum(counts.values())
            with count_host_syncs() as counts:
                validation()
            return training, sum(counts.values())


def _hand_loop_syncs(n_batches: int) -> int:
    case = dataclasses.replace(_common.CASES['tiny'], n_batches=n_batches)
    module = _common.make_module(case)
    optimizer = torch.optim.SGD(module.parameters(), lr=_common.LR)
    loss_fn = case.loss_fn()
    loader = torch.utils.data.DataLoader(
        _common.make_dataset(case), batch_size=case.batch_size, shuffle=True
    )
    with count_host_syncs() as counts:
        for inputs, targets in loader:
            loss_fn(module(inputs), targets).backward()
            optimizer.step()
            optimizer.zero_grad()
    return sum(counts.values())


def measure() -> list[tuple[str, float, float]]:
    """(loop, syncs per step, fixed syncs per epoch) for each setting."""
    rows = [
        _row(
            'hand-written loop',
            _hand_loop_syncs(SHORT),
            _hand_loop_syncs(LONG),
        )
    ]
    for standard in (False, True):
        trackers = 'standard trackers' if standard else 'no trackers'
        short = _epoch_syncs(SHORT, standard)
        long = _epoch_syncs(LONG, standard)
        for index, loop in enumerate(('training', 'validation')):
            rows.append(_row(f'{loop}, {trackers}', short[index], long[index]))
    return rows


def _row(name: str, short: int, long: int) -> tuple[str, float, float]:
    """Per-step count and fixed count from a short and a long pass."""
    per_step = (long - short) / (LONG - SHORT)
    return name, per_step, short - per_step * SHORT


def _print(label: str, rows: list[tuple[str, float, float]]) -> None:
    print(f'{label}:')
    for name, per_step, fixed in rows:
        print(f'  {name:32s} {per_step:5.2f} per step, {fixed:5.1f} per epoch')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('--python', action='append', default=[])
    parser.add_argument('--label', default='drytorch (this repo)')
    args = parser.parse_args(argv)
    _common.one_thread()
    _print(args.label, measure())
    script = str(pathlib.Path(__file__).resolve())
    for python in args.python:
        _common.print_run(
            _common.run_elsewhere(python, script, '--label', python)
        )


if __name__ == '__main__':
    main()
