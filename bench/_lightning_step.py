"""Per-step time of Lightning against a hand loop, in one process.

Run by bench/train_step.py with ``--python`` pointing to a virtual
environment where ``lightning`` is installed; it prints JSON rows.

Each timed Lightning epoch is one ``Trainer.fit`` with ``max_epochs=1`` on
the same LightningModule (weights and Adam state carry over, as they do in
the other variants). Only the epoch itself is timed, from
``on_train_epoch_start`` to ``on_train_epoch_end``: Lightning's set-up of a
fit is left out, in its favour. Two blocks: 'bare' (no logger, progress
bar, checkpointing or summary) and 'defaults' (Lightning's defaults, the
loss logged to the progress bar as its documentation shows), each against
its own hand-loop baseline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

import _common
import lightning as L  # noqa: N812
import torch
from torch.utils import data


class _Module(L.LightningModule):
    def __init__(self, case: _common.Case, log_loss: bool) -> None:
        super().__init__()
        self.net = _common.make_module(case)
        self.loss_fn = case.loss_fn()
        self.log_loss = log_loss
        # one optimizer for every fit: its state carries over epochs
        self.adam = torch.optim.Adam(self.net.parameters(), lr=_common.LR)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        inputs, targets = batch
        loss = self.loss_fn(self.net(inputs), targets)
        if self.log_loss:
            self.log('loss', loss, prog_bar=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.adam


class _EpochTimer(L.Callback):
    def __init__(self) -> None:
        self.start = 0.0
        self.elapsed = 0.0

    def on_train_epoch_start(self, *args: Any) -> None:
        self.start = _common.clock()

    def on_train_epoch_end(self, *args: Any) -> None:
        self.elapsed = _common.clock() - self.start


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Progress bars to the null device; no set-up chatter or warnings."""
    saved = sys.stderr, sys.stdout
    with open(os.devnull, 'w') as null, warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for name in ('lightning', 'lightning.pytorch'):
            logging.getLogger(name).setLevel(logging.ERROR)
        sys.stderr = sys.stdout = null
        try:
            yield
        finally:
            sys.stderr, sys.stdout = saved


def measure_block(
    case: _common.Case, repeats: int, defaults: bool
) -> dict[str, list[float]]:
    """Epoch times of the hand loop and of Lightning, alternated."""
    dataset = _common.make_dataset(case)
    hand = _common.HandLoop(case, dataset)
    module = _Module(case, log_loss=defaults)
    loader = data.DataLoader(
        dataset, batch_size=case.batch_size, shuffle=True, drop_last=True
    )
    with tempfile.TemporaryDirectory() as root, _quiet():
        options: dict[str, Any] = {}
        if not defaults:
            options = {
                'logger': False,
                'enable_progress_bar': False,
                'enable_checkpointing': False,
                'enable_model_summary': False,
            }

        def fit_epoch() -> float:
            timer = _EpochTimer()
            trainer = L.Trainer(
                max_epochs=1,
                accelerator='cpu',
                devices=1,
                default_root_dir=root,
                callbacks=[timer],
                **options,
            )
            trainer.fit(module, loader)
            return timer.elapsed

        return _common.interleave(
            {'hand': hand.epoch, 'lightning': fit_epoch}, repeats
        )


def main() -> None:
    cases, repeats = _common.parse_cases()
    _common.one_thread()
    version = L.__version__
    for case in cases:
        for defaults in (False, True):
            times = measure_block(case, repeats, defaults)
            setting = 'defaults' if defaults else 'bare'
            _common.emit(
                _common.summarize(
                    case,
                    times,
                    'hand',
                    {
                        'hand': f'hand loop (Lightning {setting} block)',
                        'lightning': f'Lightning {version}, {setting}',
                    },
                )
            )


if __name__ == '__main__':
    main()
