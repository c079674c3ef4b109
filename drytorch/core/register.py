"""Registration of models and actors with the active run.

A module object belongs to the run in which a ``Model`` wrapped it, until it
is unregistered: building a second ``Model`` around it raises, in any run,
so nothing trained in one run leaks into another unnoticed. An actor (a
trainer, an evaluation, a runner) may only act on a model registered in the
active run; resuming a run (same experiment and id) keeps its models.

Models and actors are tracked through weak references, never through
``id()``, which Python reuses after garbage collection.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import TYPE_CHECKING, Any

from drytorch.core import exceptions, scope

if TYPE_CHECKING:
    from drytorch.core.experiment import Run

__all__ = [
    'ALL_ACTORS',
    'ALL_MODULES',
    'register_actor',
    'register_model',
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
    documented_in: weakref.ref[Run] | None = None
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

    Raises:
        NoActiveExperimentError: if no run is active.
        ModuleAlreadyRegisteredError: if the module is registered already.
        NameAlreadyRegisteredError: if the name is taken in this run.
    """
    run = scope.require_run()
    module = model.module
    entry = ALL_MODULES.get(module)
    if entry is not None:
        raise exceptions.ModuleAlreadyRegisteredError(
            entry.model_name, entry.exp_name, entry.run_id
        )
    run.metadata_manager.register_model(model)
    entry = _Entry(
        run_key=run.key,
        exp_name=run.experiment.name,
        run_id=run.id,
        model_name=model.name,
    )
    ALL_MODULES[module] = entry
    ALL_ACTORS[module] = entry.actors


def register_actor(actor: Any, model: Any) -> None:
    """Document an actor the first time it acts on a model in this run.

    Raises:
        NoActiveExperimentError: if no run is active.
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
    if actor in entry.actors:
        return
    run.metadata_manager.register_actor(actor, model)
    entry.actors.add(actor)


def unregister_model(model: Any) -> None:
    """Forget a model's module and its actors, so it can be wrapped again."""
    entry = ALL_MODULES.pop(model.module, None)
    ALL_ACTORS.pop(model.module, None)
    run = scope.active_run()
    if entry is not None and run is not None and entry.run_key == run.key:
        run.metadata_manager.unregister_model(model)


def unregister_actor(actor: Any) -> None:
    """Forget an actor everywhere, so that it is documented again."""
    for entry in list(ALL_MODULES.values()):
        entry.actors.discard(actor)
    run = scope.active_run()
    if run is not None:
        run.metadata_manager.unregister_actor(actor)
