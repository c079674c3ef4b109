"""Finding the experiment a magic means, in the user namespace.

The core keeps no list of experiments, and the extension does not reach
into it. Instead the extension looks at the user namespace after every cell
(and whenever a magic needs an experiment) and numbers the experiments it
has not seen before: each look that finds new ones is a new generation. The
default experiment is the one of the newest generation still bound to a
variable, which is the most recently created one for a notebook that
creates one experiment per cell (re-running a cell makes a new one, which
wins). When several appeared in the same cell the creation order is not
knowable from the namespace, so the default is refused and the user is
asked to name one, rather than guessed.

Only top-level variables whose names do not start with ``_`` count (IPython
keeps output history in ``_``, ``_1``, ...); experiments in containers are
not seen. Experiments are told apart by identity, so subclasses that define
``__eq__`` (and are not hashable) work too.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from drytorch import Experiment

__all__ = ['ExperimentWatcher', 'experiment_variables', 'resolve_variable']


def _is_experiment(value: object) -> bool:
    try:
        return isinstance(value, Experiment)
    except Exception:  # proxies may raise from __class__
        return False


def experiment_variables(
    namespace: Mapping[str, Any],
) -> list[tuple[Experiment[Any], list[str]]]:
    """The experiments bound to public variables, with their names."""
    found: dict[int, tuple[Experiment[Any], list[str]]] = {}
    for name, value in list(namespace.items()):
        if not name.startswith('_') and _is_experiment(value):
            found.setdefault(id(value), (value, []))[1].append(name)
    return list(found.values())


def resolve_variable(
    namespace: Mapping[str, Any], name: str
) -> Experiment[Any]:
    """The experiment bound to ``name``.

    Raises:
        LookupError: if no variable has that name.
        TypeError: if the variable is not an Experiment.
    """
    try:
        value = namespace[name]
    except KeyError:
        msg = (
            f'Expected the name of a variable holding an Experiment, got '
            f'{name!r}, which is not defined.'
        )
        raise LookupError(msg) from None
    if not _is_experiment(value):
        msg = (
            f'Expected {name!r} to be an Experiment, got '
            f'{type(value).__name__}.'
        )
        raise TypeError(msg)
    return value


class ExperimentWatcher:
    """Numbers the experiments of a namespace in the order they appear."""

    def __init__(self) -> None:
        # id -> (weak reference, generation); the reference guards against
        # a reused id and lets a collected experiment drop out
        self._seen: dict[int, tuple[weakref.ref[Any], int]] = {}
        self._generation = 0

    def generation(self, experiment: Experiment[Any]) -> int:
        """When the experiment was first seen (0: never)."""
        entry = self._seen.get(id(experiment))
        if entry is None or entry[0]() is not experiment:
            return 0
        return entry[1]

    def scan(self, namespace: Mapping[str, Any]) -> None:
        """Record the experiments of the namespace not seen before."""
        new = [
            experiment
            for experiment, _ in experiment_variables(namespace)
            if not self.generation(experiment)
        ]
        if not new:
            return
        self._generation += 1
        self._seen = {
            key: entry
            for key, entry in self._seen.items()
            if entry[0]() is not None
        }
        for experiment in new:
            self._seen[id(experiment)] = (
                weakref.ref(experiment),
                self._generation,
            )

    def latest(
        self, namespace: Mapping[str, Any]
    ) -> tuple[str, Experiment[Any]]:
        """The variable name and the experiment created most recently.

        Raises:
            LookupError: if no variable holds an Experiment.
            ValueError: if several experiments appeared in the same cell
                and none is more recent than the others.
        """
        self.scan(namespace)
        bound = experiment_variables(namespace)
        if not bound:
            msg = (
                'Expected an Experiment in a variable of the notebook, got '
                'none: create one first (exp = Experiment(config, '
                "name='...')) or name it."
            )
            raise LookupError(msg)
        newest = max(self.generation(e) for e, _ in bound)
        candidates = [
            (names[0], e) for e, names in bound if self.generation(e) == newest
        ]
        if len(candidates) > 1:
            names = ', '.join(name for name, _ in candidates)
            msg = (
                'Expected one most recent Experiment, got several created '
                f'in the same cell ({names}): name the one to use.'
            )
            raise ValueError(msg)
        return candidates[0]
