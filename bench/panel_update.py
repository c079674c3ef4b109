"""Cost of one panel update late in a long training (target: <= 5 ms).

A panel update at a slow tick draws the status (bars and running metrics),
the summary table and every chart. Its cost grows with the number of drawn
points, which the panel bounds (``max_points``), so an update at epoch
1,000 should cost about what one at epoch 100 does. Measured here, without
a kernel, on the HTML the widgets would receive (the widget message itself
is one comm send, measured by ``panel_cost.py``):

* ``update_ms``: status + summary + charts, at epochs 10, 100 and 1,000 of
  a training with validation and three metrics;
* ``snapshot_ms``: the static snapshot at stop, at the same epochs;
* ``ratio_1000_vs_10``: how much more an update at epoch 1,000 costs than
  one at epoch 10 (the bound on points keeps it small).

Usage: ``python bench/panel_update.py``; prints JSON.
"""

from __future__ import annotations

import json
import statistics
import time

from drytorch_nb import _render, _snapshot, _summary
from drytorch_nb._state import PanelState, PassProgress

METRICS = ('loss', 'accuracy', 'f1')
REPEATS = 30


def _state(epochs: int) -> PanelState:
    state = PanelState(max_points=200)
    state.training_source = 'Trainer'
    state.training_started = 0.0
    state.training_active = True
    state.end_epoch = epochs
    state.epochs_done = epochs
    for epoch in range(1, epochs + 1):
        for source in ('Trainer', 'Validation'):
            state.add_metrics(
                'net',
                source,
                epoch,
                {
                    'loss': 1.0 / epoch,
                    'accuracy': 1 - 1.0 / (epoch + 1),
                    'f1': 0.5 + 0.4 * (epoch % 7) / 7,
                },
            )
    state.progress = PassProgress(
        'Trainer', n_iter=100, done=40, started=0.0, updated=1.0
    )
    return state


def _median_ms(action: object) -> float:
    assert callable(action)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    """Measure and print the figures."""
    result: dict[str, dict[str, float]] = {'update_ms': {}, 'snapshot_ms': {}}
    for epochs in (10, 100, 1000):
        state = _state(epochs)

        def update(state: PanelState = state) -> None:
            _render.status_html(state, 2.0)
            _summary.summary_html(state)
            _render.charts_html(state)

        def snapshot(state: PanelState = state) -> None:
            _snapshot.snapshot_html(state, 2.0)

        result['update_ms'][str(epochs)] = round(_median_ms(update), 3)
        result['snapshot_ms'][str(epochs)] = round(_median_ms(snapshot), 3)
    updates = result['update_ms']
    ratio = updates['1000'] / updates['10']
    print(json.dumps({**result, 'ratio_1000_vs_10': round(ratio, 2)}))


if __name__ == '__main__':
    main()
