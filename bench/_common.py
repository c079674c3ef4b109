"""Shared pieces of the training benchmarks: data, networks, timing.

This module imports torch only, so that the same cases and the same
hand-written baseline run in any virtual environment (ours, the reference's,
Lightning's). Every variant of a case trains a network with the same
initial weights, on the same tensors, with Adam and the same loss: the work
per step is identical and only the loop around it differs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn import functional
from torch.utils import data

__all__ = [
    'CASES',
    'CLOCKS',
    'Case',
    'HandLoop',
    'add_arguments',
    'clock',
    'emit',
    'interleave',
    'make_dataset',
    'make_module',
    'one_thread',
    'parse_cases',
    'print_run',
    'quiet',
    'run_elsewhere',
    'summarize',
]

LR = 1e-3
_SETTLE_BYTES = 16 * 2**20  # more than any tensor of the cases

# 'cpu' is the processor time of the whole process (every thread): on a
# shared machine it leaves out the time other processes take, which wall
# time counts against whichever variant was running. On an idle machine,
# with one thread, both clocks agree.
CLOCKS: dict[str, Callable[[], float]] = {
    'cpu': time.process_time,
    'wall': time.perf_counter,
}
clock = CLOCKS['cpu']


@dataclasses.dataclass(frozen=True)
class Case:
    """A benchmark case: an MLP, a batch size, a loss, an epoch length."""

    name: str
    widths: tuple[int, ...]
    batch_size: int
    classification: bool
    n_batches: int

    def loss_fn(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Cross-entropy for class labels, MSE for regression targets."""
        return functional.cross_entropy if self.classification else _mse


def _mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return functional.mse_loss(outputs, targets)


CASES = {
    'tiny': Case('tiny MLP 32-64-10, batch 32', (32, 64, 10), 32, False, 256),
    'mlp': Case(
        'MLP 784-512-512-10, batch 128', (784, 512, 512, 10), 128, True, 64
    ),
}


def make_module(case: Case, seed: int = 0) -> nn.Module:
    """The case's MLP, with weights drawn from ``seed``."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    widths = case.widths
    for index, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        if index:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


def make_dataset(case: Case, seed: int = 0) -> data.TensorDataset:
    """``n_batches`` full batches of random inputs and targets in memory."""
    generator = torch.Generator().manual_seed(seed)
    n_samples = case.batch_size * case.n_batches
    inputs = torch.randn(n_samples, case.widths[0], generator=generator)
    n_out = case.widths[-1]
    if case.classification:
        targets = torch.randint(n_out, (n_samples,), generator=generator)
    else:
        targets = torch.randn(n_samples, n_out, generator=generator)
    return data.TensorDataset(inputs, targets)


class HandLoop:
    """The baseline: the training loop one writes by hand."""

    def __init__(self, case: Case, dataset: data.TensorDataset) -> None:
        self.module = make_module(case)
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=LR)
        self.loss_fn = case.loss_fn()
        # the same sampling as the libraries: shuffled, full batches only
        self.loader = data.DataLoader(
            dataset, batch_size=case.batch_size, shuffle=True, drop_last=True
        )

    def epoch(self) -> None:
        """One pass over the data: forward, loss, backward, step."""
        module = self.module
        optimizer = self.optimizer
        loss_fn = self.loss_fn
        module.train()
        for inputs, targets in self.loader:
            loss = loss_fn(module(inputs), targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)


def interleave(
    variants: dict[str, Callable[[], Any]], repeats: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Time each variant ``repeats`` times, in alternation (ABAB...).

    Alternating spreads slow phases of the machine (other processes,
    frequency changes) over every variant instead of penalising one. The
    order of the variants is rotated every round so that none always runs
    right after another one's garbage.

    Returns:
        The durations in seconds, by variant.
    """
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            start = clock()
            reported = variants[name]()
            elapsed = clock() - start
            if isinstance(reported, float):
                elapsed = reported
            times[name].append(elapsed)
    return times


def summarize(
    case: Case, times: dict[str, list[float]], baseline: str, labels: dict
) -> Iterator[dict[str, Any]]:
    """Rows of median time per step and ratio to the baseline."""
    base = times[baseline]
    for name, samples in times.items():
        # the median of the ratios of epochs run side by side: a slow phase
        # of the machine slows both members of a pair
        ratios = [
            mine / theirs for mine, theirs in zip(samples, base, strict=True)
        ]
        yield {
            'case': case.name,
            'variant': labels.get(name, name),
            'us_per_step': statistics.median(samples) / case.n_batches * 1e6,
            'ratio': statistics.median(ratios),
        }


def emit(rows: Iterator[dict[str, Any]]) -> None:
    """Print rows as JSON lines (read back by bench/train_step.py)."""
    for row in rows:
        print(json.dumps(row), flush=True)


def one_thread() -> None:
    """One intra-op thread: timings that do not depend on the scheduler.

    Also settles glibc's allocator first. It serves a block larger than
    its mmap threshold (128 KiB at start) with a fresh mapping, and raises
    the threshold to the size of each such block freed. Without this, the
    weights and optimizer states allocated first (say, the hand loop's)
    would live in small separate mappings and those allocated later (the
    library's) in the large heap, where the kernel backs memory with huge
    pages: the MLP's steps differed by 20% for that reason alone.
    """
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    if os.environ.get('BENCH_NO_SETTLE'):
        return
    torch.empty(_SETTLE_BYTES, dtype=torch.uint8)  # allocated, then freed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by bench/train_step.py and the competitors."""
    parser.add_argument(
        '--cases', nargs='+', default=list(CASES), choices=CASES
    )
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--clock', default='cpu', choices=CLOCKS)


def parse_cases(argv: list[str] | None = None) -> tuple[list[Case], int]:
    """Parse the options of a competitor script and select the clock."""
    global clock
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    clock = CLOCKS[args.clock]
    return [CASES[name] for name in args.cases], args.repeats


@contextlib.contextmanager
def quiet(stdout: bool = False) -> Iterator[None]:
    """Send what trackers write to sys.stderr (and sys.stdout) to /dev/null.

    Progress bars drawn in a terminal would weigh on the loop measured.
    """
    with contextlib.ExitStack() as stack:
        null = stack.enter_context(open(os.devnull, 'w'))
        stack.enter_context(contextlib.redirect_stderr(null))
        if stdout:
            stack.enter_context(contextlib.redirect_stdout(null))
        yield


def run_elsewhere(python: str, *argv: str) -> subprocess.CompletedProcess:
    """Run ``python *argv`` from an empty folder; the output is captured.

    Outside the repository, ``import drytorch`` finds the package installed
    in that interpreter's environment (e.g. the reference's), not ours.
    """
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run(
            [python, *argv],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )


def print_run(done: subprocess.CompletedProcess) -> None:
    """Print what a run wrote, and the end of its errors if it failed."""
    print(done.stdout, end='')
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
