"""Which runs %drytorch_compare compares: experiments and run ids resolved.

Experiments are Experiment objects or names of experiments recorded under a
``par_dir``; runs are the latest of each experiment, every run, or the ids
asked for (``RUN_ID`` or ``EXPERIMENT/RUN_ID``). A name or an id that does
not exist raises :class:`~drytorch.core.exceptions.UnknownRunError` with the
list of those that do.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable, Sequence
from typing import Any

from drytorch import Experiment
from drytorch.core import exceptions, history
from drytorch.core.run_registry import RunRegistry
from drytorch_nb._results import RunResults, read_results

__all__ = ['RunSource', 'select_runs']

_MAX_LISTED = 20


def _listed(names: Iterable[str]) -> list[str]:
    names = sorted(names)
    if len(names) > _MAX_LISTED:
        more = len(names) - _MAX_LISTED
        return [*names[:_MAX_LISTED], f'... ({more} more)']
    return names


class RunSource:
    """Where runs are looked up: experiments by name and their folders."""

    def __init__(self, par_dir: pathlib.Path) -> None:
        self.root = pathlib.Path(par_dir) / history.REGISTRY_FOLDER
        self.known: dict[str, pathlib.Path] = {}
        self.configs: dict[str, Any] = {}
        self.without_runs: list[str] = []

    def on_disk(self) -> list[str]:
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        return sorted(
            entry.name
            for entry in entries
            if entry.is_dir()
            and (
                os.path.isdir(os.path.join(entry.path, 'runs'))
                or os.path.isfile(os.path.join(entry.path, 'runs.json'))
            )
        )

    def add(self, target: Experiment[Any] | str) -> str:
        if isinstance(target, Experiment):
            self.known[target.name] = target.registry.path
            self.configs[target.name] = target.config
            return target.name
        if not isinstance(target, str):
            msg = (
                'Expected an Experiment or an experiment name, got '
                f'{type(target).__name__}.'
            )
            raise TypeError(msg)
        if target in self.known:
            return target
        names = self.on_disk()
        if target not in names:
            raise exceptions.UnknownRunError(
                f'an experiment recorded in {self.root}',
                target,
                _listed(names),
            )
        self.known[target] = history.registry_dir(self.root.parent, target)
        return target


def select_runs(
    source: RunSource,
    experiments: list[str],
    run_ids: Sequence[str],
    every_run: bool,
) -> list[RunResults]:
    selected: list[RunResults] = []
    if not run_ids:
        for name in experiments:
            registry = RunRegistry(source.known[name])
            records = registry.load_all()
            if not every_run:
                last = registry.last()
                records = [last] if last is not None else []
            if not records:
                source.without_runs.append(name)
            selected.extend(
                read_results(name, source.known[name], r) for r in records
            )
        return selected
    scope = experiments or source.on_disk()
    for name in scope:
        source.add(name)
    for run_id in run_ids:
        exp_name, _, bare_id = run_id.rpartition('/')
        names = [exp_name] if exp_name else scope
        if exp_name:
            source.add(exp_name)
        found = []
        for name in names:
            record = RunRegistry(source.known[name]).get(bare_id)
            if record is not None:
                found.append(read_results(name, source.known[name], record))
        if not found:
            known = [
                f'{name}/{record.id}'
                for name in names
                for record in RunRegistry(source.known[name]).load_all()
            ]
            raise exceptions.UnknownRunError('a run', run_id, _listed(known))
        if len(found) > 1:
            raise exceptions.UnknownRunError(
                'one run (write EXPERIMENT/RUN_ID) among',
                run_id,
                [f'{r.experiment}/{r.record.id}' for r in found],
            )
        selected.extend(found)
    return selected
