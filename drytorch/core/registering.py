"""Registration of models and actors with the active run.

A module object belongs to the run in which a ``Model`` wrapped it, until it
is unregistered: building a ``Model`` around it in another run raises, so
nothing trained in one run leaks into another unnoticed. An actor (a
trainer, an evaluation, a runner) may only act on a model registered in the
active run; resuming a run (same experiment and id) keeps its models.

Within a run, the newest object takes over: a ``Model`` built around a
module that another ``Model`` of the run wraps, or with the name of another
model of the run, releases the old model and its actors; an actor takes the
name of an older actor of the same model. That is what re-executing a
notebook cell does, and it must neither fail nor rename anything. A released
model can no longer be acted on; a released actor still acts, undocumented,
and never takes its name back from the newer one.

Models and actors are tracked through weak references, never through
``id()``, which Python reuses after garbage collection.

This module was ``drytorch.core.register`` in 0.1.0rc5; that path still
works and gives the same objects. (The record of an experiment's runs on
disk is another thing: :mod:`drytorch.core.run_registry`.)
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any

from drytorch.core import exceptions, scope

__all__ = [
    'ALL_ACTORS',
    'ALL_MODULES',
    'register_actor',
    'register_model',
    'registered_model',
    'unregister_actor',
    'unregister_model',
]


@dataclasses.dataclass
class _Entry:
    """Where a module is registered, and the actors documented for it."""

    run_key: tuple[str, str, str]
    exp_name: str
    run_id: str
    model_name: str
    model: weakref.ref[Any]
    documented_in: weakref.ref[scope.ActiveRun] | None = None
    actors: weakref.WeakSet[Any] = dataclasses.field(
        default_factory=weakref.WeakSet
    )


ALL_MODULES: weakref.WeakKeyDictionary[Any, _Entry] = (
    weakref.WeakKeyDictionary()
)
"""Registered module objects and where they are registered."""

ALL_ACTORS: weakref.WeakKeyDictionary[Any, weakref.WeakSet[Any]] = (
    weakref.WeakKeyDictionary()
)
"""Registered module objects and the actors documented for them."""


def register_model(model: Any) -> None:
    """Register a model's module in the active run and document it.

    A model of this run that wraps the same module, or has the same name,
    is released first (see the module's documentation).

    Raises:
        NoActiveRunError: if no run is active.
        ModuleAlreadyRegisteredError: if a model of another run wraps the
            module.
    """
    run = scope.require_run()
    module = model.module
    entry = ALL_MODULES.get(module)
    if entry is not None:
        if entry.run_key != run.key:
            raise exceptions.ModuleAlreadyRegisteredError(
                entry.model_name, entry.exp_name, entry.run_id
            )
        _release_model(module, entry, run)
    previous = run.metadata_manager.register_model(model)
    previous_module = getattr(previous, 'module', None)
    if previous_module is not None:
        previous_entry = ALL_MODULES.get(previous_module)
        if previous_entry is not None and previous_entry.run_key == run.key:
            _release_model(previous_module, previous_entry, run)
    entry = _Entry(
        run_key=run.key,
        exp_name=run.experiment.name,
        run_id=run.id,
        model_name=model.name,
        model=weakref.ref(model),
    )
    ALL_MODULES[module] = entry
    ALL_ACTORS[module] = entry.actors


def registered_model(module: Any) -> Any:
    """The live model of the active run that wraps ``module``, if any."""
    run = scope.active_run()
    entry = ALL_MODULES.get(module)
    if run is None or entry is None or entry.run_key != run.key:
        return None
    return entry.model()


def _release_model(module: Any, entry: _Entry, run: scope.ActiveRun) -> None:
    """Forget a module's model and the names of its actors in this run."""
    ALL_MODULES.pop(module, None)
    ALL_ACTORS.pop(module, None)
    old_model = entry.model()
    if old_model is not None:
        run.metadata_manager.unregister_model(old_model)
    _RELEASED.update(entry.actors)
    entry.actors.clear()


_RELEASED: weakref.WeakSet[Any] = weakref.WeakSet()
"""Actors whose name a newer actor took: they act, undocumented."""


def register_actor(actor: Any, model: Any) -> None:
    """Document an actor the first time it acts on a model in this run.

    Raises:
        NoActiveRunError: if no run is active.
        ModuleNotRegisteredError: if the model is not registered in the
            active run.
    """
    run = scope.require_run()
    entry = ALL_MODULES.get(model.module)
    if entry is None or entry.run_key != run.key:
        raise exceptions.ModuleNotRegisteredError(
            model.name, run.experiment.name, run.id
        )
    documented_in = entry.documented_in() if entry.documented_in else None
    if documented_in is not run:
        # a resumed run (new Run object, same id) documents actors again
        entry.actors.clear()
        entry.documented_in = weakref.ref(run)
    if actor in entry.actors or actor in _RELEASED:
        return
    manager = run.metadata_manager
    holder = manager.holder(manager.actor_key(actor, model))
    if holder is not None and holder is not actor and _newer(holder, actor):
        _RELEASED.add(actor)  # a newer actor has its name: keep it there
        return
    previous = manager.register_actor(actor, model)
    entry.actors.add(actor)
    if previous is not None:
        for other in list(ALL_MODULES.values()):
            other.actors.discard(previous)
        _RELEASED.add(previous)


def _newer(first: Any, second: Any) -> bool:
    """Whether ``first`` was created after ``second``."""
    first_ts = getattr(first, 'created_at', None)
    second_ts = getattr(second, 'created_at', None)
    if first_ts is None or second_ts is None:
        return False
    return bool(first_ts > second_ts)


def unregister_model(model: Any) -> None:
    """Forget a model's module and its actors, so it can be wrapped again."""
    entry = ALL_MODULES.pop(model.module, None)
    ALL_ACTORS.pop(model.module, None)
    run = scope.active_run()
    if entry is not None and run is not None and entry.run_key == run.key:
        run.metadata_manager.unregister_model(model)


def unregister_actor(actor: Any) -> None:
    """Forget an actor everywhere, so that it is documented again."""
    _RELEASED.discard(actor)
    for entry in list(ALL_MODULES.values()):
        entry.actors.discard(actor)
    run = scope.active_run()
    if run is not None:
        run.metadata_manager.unregister_actor(actor)
