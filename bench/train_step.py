"""Per-step training time: drytorch's Trainer against a hand-written loop.

Usage:
    python bench/train_step.py [--cases tiny mlp] [--repeats 20] [--clock cpu]
        [--python /tmp/venv-ref/bin/python] [--python /tmp/venv-pl/bin/python]

For each case (bench/_common.py: a tiny MLP 32-64-10 with batch 32 and MSE,
an MLP 784-512-512-10 with batch 128 and cross-entropy; Adam; the same
tensors in memory), one thread, two blocks: the hand loop and
``Trainer.train(1)`` alternated with no trackers, then the same with the
trackers of ``init_trackers('standard')`` writing to the null device. A
row gives the median time per step (epoch time / batches, the epoch's own
events included) and its ratio to the hand loop of the same block.

Each ``--python`` names the interpreter of another virtual environment
(torch 2.13.0 CPU there too); the script runs there whichever competitor is
installed: the reference, drytorch 0.1.0rc5 (bench/_ref_step.py), and/or
Lightning (bench/_lightning_step.py), each with its own hand-loop baseline
measured in its process. All rows are printed in one markdown table.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys
from typing import Any

import _common
import _drytorch_variants
import torch

_HERE = pathlib.Path(__file__).resolve().parent

_PROBE = """
import importlib.metadata as m, importlib.util as u
found = []
try:
    if m.version('drytorch') == '0.1.0rc5':
        found.append('_ref_step.py')
except m.PackageNotFoundError:
    pass
if u.find_spec('lightning') is not None:
    found.append('_lightning_step.py')
print(' '.join(found))
"""


def _competitor_rows(
    python: str, args: argparse.Namespace
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    probe = _common.run_elsewhere(python, '-c', _PROBE)
    probe.check_returncode()
    scripts = probe.stdout.split()
    if not scripts:
        print(f'{python}: neither drytorch 0.1.0rc5 nor lightning found')
    for script in scripts:
        done = _common.run_elsewhere(
            python,
            str(_HERE / script),
            '--cases',
            *args.cases,
            '--repeats',
            str(args.repeats),
            '--clock',
            args.clock,
        )
        if done.returncode:
            print(done.stderr[-3000:], file=sys.stderr)
            continue
        rows += [
            json.loads(line)
            for line in done.stdout.splitlines()
            if line.startswith('{')
        ]
    return rows


def _print_table(rows: list[dict[str, Any]]) -> None:
    print('| case | variant | µs / step | ratio to hand loop |')
    print('|---|---|---:|---:|')
    for case in dict.fromkeys(row['case'] for row in rows):
        for row in rows:
            if row['case'] == case:
                print(
                    f'| {case} | {row["variant"]} | '
                    f'{row["us_per_step"]:.1f} | {row["ratio"]:.3f} |'
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common.add_arguments(parser)
    parser.add_argument('--python', action='append', default=[])
    args = parser.parse_args()
    _common.clock = _common.CLOCKS[args.clock]
    _common.one_thread()
    rows: list[dict[str, Any]] = []
    for name in args.cases:
        rows += _drytorch_variants.rows(
            _common.CASES[name], args.repeats, 'drytorch (this repo)'
        )
    for python in args.python:
        rows += _competitor_rows(python, args)
    print(
        f'torch {torch.__version__}, Python {platform.python_version()}, '
        f'{args.repeats} alternated epochs per variant, 1 thread, '
        f'{args.clock} time'
    )
    _print_table(rows)


if __name__ == '__main__':
    main()
