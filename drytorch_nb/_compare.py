"""Compare recorded runs: a table of results and overlaid learning curves.

:func:`compare_runs` reads the registry and the metric history of each run
(:mod:`drytorch.core.history`), from any process. The result shows as static
HTML in a notebook (a table and inline SVG charts: no widget, no script, so
it survives saving and renders wherever HTML does) and as plain text
elsewhere.

The table has one row per run: experiment, run id, status, epochs,
duration, the configuration values that differ between the runs (only
those), and for each metric its final value and its best value with the
epoch (lower is better for losses and errors, higher otherwise). Then one
chart per metric: one colour per run, training solid, validation dashed,
a ring on each curve's best point.
"""

from __future__ import annotations

import difflib
import html
import json
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from drytorch import Experiment
from drytorch.core import history
from drytorch.trackers.code import NOTEBOOK_NAME, read_cells
from drytorch.utils.formatting import format_number
from drytorch_nb._compare_chart import RUN_COLORS, Curve, chart_svg
from drytorch_nb._compare_select import RunSource, select_runs
from drytorch_nb._results import ResultsTable, RunResults, best_index

__all__ = ['Comparison', 'compare_runs']

_SEP = '.'


def _flatten(value: Any, prefix: str = '') -> dict[str, str]:
    if isinstance(value, Mapping) and value:
        flat: dict[str, str] = {}
        for key, item in value.items():
            name = f'{prefix}{_SEP}{key}' if prefix else str(key)
            flat.update(_flatten(item, name))
        return flat
    if isinstance(value, float | int) and not isinstance(value, bool):
        return {prefix or '(value)': format_number(value)}
    return {prefix or '(value)': json.dumps(value, default=repr)}


class Comparison:
    """Runs side by side: a table and learning curves.

    Shown as HTML in a notebook (``_repr_html_``) and as text elsewhere
    (``str``/``repr``).

    Attributes:
        runs: the compared runs, in the order asked for.
        config_keys: the configuration values that differ between them.
        metrics: the compared metrics, as (model, source, metric).
        notes: what the reader should know (runs without history,
            metrics that no two runs share).
    """

    def __init__(
        self,
        runs: Sequence[RunResults],
        configs: Mapping,
        show_code: bool = False,
        without_runs: Sequence[str] = (),
    ) -> None:
        """Args:
        runs: the runs to compare.
        configs: fallback configurations by experiment name.
        show_code: add the differences between the notebook cells of the
            two runs.
        without_runs: the asked-for experiments that have no run.
        """  # noqa: D205
        self.runs = list(runs)
        self.without_runs = list(without_runs)
        self.show_code = show_code
        flat = []
        for run in self.runs:
            config = None
            if run.history is not None and run.history.starts:
                config = run.history.config
            elif run.experiment in configs:
                config = history.config_value(configs[run.experiment])
            flat.append(_flatten(config) if config is not None else {})
        self._configs = flat
        keys: dict[str, None] = {}
        for config in flat:
            keys.update(dict.fromkeys(config))
        self.config_keys = [
            key
            for key in keys
            if len({config.get(key, '') for config in flat}) > 1
        ]
        metrics: dict[tuple[str, str, str], int] = {}
        for run in self.runs:
            if run.history is None:
                continue
            for (model, source), series in run.history.series.items():
                for name in series.metrics:
                    key = (model, source, name)
                    metrics[key] = metrics.get(key, 0) + 1
        self.metrics = list(metrics)
        self.notes = self._notes(metrics)

    def _notes(self, metrics: Mapping[Any, int]) -> list[str]:
        empty = [
            f'Experiment {name} has no recorded run.'
            for name in self.without_runs
        ]
        if not self.runs:
            return [*empty, 'No runs to compare: none is recorded.']
        notes = empty + [
            f'{run.experiment}/{run.record.id}: {run.note}.'
            for run in self.runs
            if run.history is None
        ]
        with_history = [run for run in self.runs if run.history is not None]
        if len(with_history) > 1 and metrics and max(metrics.values()) < 2:
            notes.append(
                'The runs share no metric: each metric below comes from '
                'one run only.'
            )
        if len(with_history) > 1 and not metrics:
            notes.append('None of the runs recorded any metric.')
        return notes

    @property
    def _multi_model(self) -> bool:
        return len({model for model, _, _ in self.metrics}) > 1

    def _label(self, key: tuple[str, str, str]) -> str:
        model, source, name = key
        return (
            f'{model} {source} {name}'
            if self._multi_model
            else (f'{source} {name}')
        )

    def cell(
        self, run: RunResults, key: tuple[str, str, str]
    ) -> tuple[float, float, int] | None:
        """(final value, best value, best epoch) of a metric of a run."""
        if run.history is None:
            return None
        series = run.history.series.get((key[0], key[1]))
        if series is None or key[2] not in series.metrics:
            return None
        values = series.metrics[key[2]]
        index = best_index(key[2], values)
        if index is None:
            return values[-1], values[-1], series.epochs[-1]
        return values[-1], values[index], series.epochs[index]

    def table(self) -> ResultsTable:
        """The table of the runs (text values, status in column 2)."""
        headers = ['Experiment', 'Run id', 'Status', 'Epochs', 'Duration']
        headers += self.config_keys
        for key in self.metrics:
            label = self._label(key)
            headers += [f'{label} final', f'{label} best (epoch)']
        rows = []
        for run, config in zip(self.runs, self._configs, strict=True):
            row = [
                run.experiment,
                run.record.id,
                run.record.status,
                run.epochs,
                run.duration,
            ]
            row += [config.get(key, '') for key in self.config_keys]
            for key in self.metrics:
                cell = self.cell(run, key)
                if cell is None:
                    row += ['', '']
                else:
                    final, best, epoch = cell
                    row += [
                        format_number(final),
                        f'{format_number(best)} ({epoch})',
                    ]
            rows.append(row)
        return ResultsTable(
            'Compared runs',
            headers,
            rows,
            empty='No runs to compare.',
            status_column=2,
        )

    def charts(self) -> list[str]:
        """One SVG chart per metric (training and validation curves)."""
        by_metric: dict[tuple[str, str], list[Curve]] = {}
        for index, run in enumerate(self.runs):
            if run.history is None:
                continue
            color = RUN_COLORS[index % len(RUN_COLORS)]
            for (model, source), series in run.history.series.items():
                if series.role == 'test':
                    continue
                for name, values in series.metrics.items():
                    by_metric.setdefault((model, name), []).append(
                        Curve(
                            epochs=series.epochs,
                            values=values,
                            color=color,
                            dashed=series.role != 'train',
                            best_index=best_index(name, values),
                            label=(
                                f'{run.experiment}/{run.record.id} {source}'
                            ),
                        )
                    )
        return [
            chart_svg(f'{model} {name}' if self._multi_model else name, curves)
            for (model, name), curves in by_metric.items()
        ]

    def code_diff(self) -> str:
        """A unified diff of the notebook cells of the two compared runs.

        Cells are compared by their source (execution counts left out),
        separated by ``# %%`` lines; an empty text means the same cells.

        Raises:
            ValueError: unless exactly two runs are compared.
            FileNotFoundError: if a run has no recorded cells.
            HistoryCorruptedError: if a saved notebook cannot be read.
        """
        if len(self.runs) != 2:
            msg = f'Expected two runs to diff, got {len(self.runs)}.'
            raise ValueError(msg)
        texts = []
        labels = []
        for run in self.runs:
            folder = history.history_path(run.exp_dir, run.record.id).parent
            cells = read_cells(folder / NOTEBOOK_NAME)
            lines: list[str] = []
            for _, source in cells:
                lines.append('# %%')
                lines.extend(source.splitlines())
            texts.append(lines)
            labels.append(f'{run.experiment}/{run.record.id}')
        return '\n'.join(
            difflib.unified_diff(
                texts[0],
                texts[1],
                fromfile=labels[0],
                tofile=labels[1],
                lineterm='',
            )
        )

    def _code_section(self) -> tuple[str, str] | None:
        """(title, diff text) when the code is asked for."""
        if not self.show_code:
            return None
        title = 'Notebook cells that differ'
        try:
            diff = self.code_diff()
        except (ValueError, FileNotFoundError) as error:
            reason = (
                str(error)
                if isinstance(error, ValueError)
                else f'no notebook cells recorded ({error.filename})'
            )
            return title, f'Cannot compare the code: {reason}'
        return title, diff or 'The two runs ran the same cells.'

    def __str__(self) -> str:
        parts = [self.table().to_text()]
        parts += [f'Note: {note}' for note in self.notes]
        code = self._code_section()
        if code is not None:
            parts += [code[0], code[1]]
        return '\n'.join(parts)

    def __repr__(self) -> str:
        return str(self)

    def _legend(self) -> str:
        items = []
        for index, run in enumerate(self.runs):
            if run.history is None:
                continue
            color = RUN_COLORS[index % len(RUN_COLORS)]
            items.append(
                f'<span style="white-space: nowrap; margin-right: 1em">'
                f'<span style="display: inline-block; width: 1.5em; '
                f'border-top: 3px solid {color}; vertical-align: middle">'
                f'</span> {html.escape(run.experiment)}/'
                f'{html.escape(run.record.id)}</span>'
            )
        if not items:
            return ''
        items.append(
            '<span style="white-space: nowrap; opacity: 0.8">'
            'solid: training, dashed: validation, ring: best</span>'
        )
        return f'<div style="margin: 0.25em 0">{" ".join(items)}</div>'

    def _repr_html_(self) -> str:
        parts = ['<div class="drytorch-nb drytorch-compare">']
        parts.append(self.table().html_body())
        parts.extend(
            f'<div><em>{html.escape(note)}</em></div>' for note in self.notes
        )
        code = self._code_section()
        if code is not None:
            parts.append(
                f'<details open><summary>{html.escape(code[0])}</summary>'
                '<pre style="overflow-x: auto; max-width: 100%; '
                'contain: inline-size">'
                f'{html.escape(code[1])}</pre></details>'
            )
        charts = self.charts()
        if charts:
            parts.append(self._legend())
            parts.append(
                '<div style="display: grid; gap: 0.5em 1em; '
                'grid-template-columns: repeat(auto-fill, '
                'minmax(min(100%, 24em), 1fr))">'
            )
            parts.extend(f'<div>{chart}</div>' for chart in charts)
            parts.append('</div>')
        parts.append('</div>')
        return ''.join(parts)


def compare_runs(
    *experiments: Experiment[Any] | str,
    run_ids: Sequence[str] = (),
    every_run: bool = False,
    par_dir: str | os.PathLike[str] | None = None,
    code: bool = False,
) -> Comparison:
    """Compare recorded runs: a table of results and learning curves.

    Without ``run_ids``, the latest run of each experiment is compared
    (every run with ``every_run``). With ``run_ids``, those runs: an id is
    ``RUN_ID`` (looked up in the given experiments, or in every experiment
    under ``par_dir``) or ``EXPERIMENT/RUN_ID``.

    Args:
        experiments: Experiment objects or names of experiments recorded
            under ``par_dir``.
        run_ids: the runs to compare.
        every_run: compare every run of each experiment.
        par_dir: where experiments named by string are recorded; default:
            the par_dir of the first Experiment given, else the current
            folder.
        code: also show the notebook cells that differ between the two
            compared runs (a unified diff of the saved cells).

    Returns:
        The comparison: HTML in a notebook, text elsewhere.

    Raises:
        TypeError: if an argument is neither an Experiment nor a name.
        UnknownRunError: if an experiment or a run does not exist; the
            message lists those that do.
        ValueError: if neither experiments nor run ids are given.
    """
    if not experiments and not run_ids:
        msg = 'Expected experiments or run ids to compare, got neither.'
        raise ValueError(msg)
    if isinstance(run_ids, str):
        run_ids = [run_ids]
    if par_dir is None:
        first = next(
            (e for e in experiments if isinstance(e, Experiment)), None
        )
        par_dir = first.par_dir if first is not None else pathlib.Path()
    source = RunSource(pathlib.Path(par_dir))
    names = list(dict.fromkeys(source.add(target) for target in experiments))
    runs = select_runs(source, names, run_ids, every_run)
    return Comparison(
        runs, source.configs, show_code=code, without_runs=source.without_runs
    )
