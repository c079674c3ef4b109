"""Internal: the active run of this process, and publication of events to it.

One run is active per process at a time: a notebook starts a run in one
cell and uses it in the next ones, so the active run is process-wide rather
than bound to a thread or a context variable (which IPython may not carry
from one cell to the next). Changes are serialized by a lock.

This module sits below :mod:`drytorch.core.experiment`, which imports it to
make its runs active: it describes what it holds by the protocols
:class:`ActiveRun` and :class:`RunNames` (which ``Run`` and
``MetadataManager`` satisfy) rather than by importing those classes back.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from drytorch.core import exceptions

if TYPE_CHECKING:
    from drytorch.core import events
    from drytorch.core._run_record import RunStatus

__all__ = ['ActiveRun', 'RunNames', 'active_run', 'publish', 'require_run']


class RunNames(Protocol):
    """The names of a run's models and actors (a ``MetadataManager``)."""

    def free_name(self, base: str, scope_name: str = '') -> str:
        """``base`` if free, else ``base_2``, ``base_3``, ...."""

    def holder(self, key: str) -> Any:
        """The live object that holds a name."""

    def actor_key(self, actor: Any, model: Any) -> str:
        """The key of an actor's name for a model."""

    def register_model(self, model: Any) -> Any:
        """Reserve the model's name; return the model that held it."""

    def register_actor(self, actor: Any, model: Any) -> Any:
        """Reserve the actor's name; return the actor that held it."""

    def unregister_model(self, model: Any) -> None:
        """Free the model's name and its actors' names."""

    def unregister_actor(self, actor: Any) -> None:
        """Free every name the actor holds."""


class _NamedExperiment(Protocol):
    @property
    def name(self) -> str:
        """The experiment's name."""


class ActiveRun(Protocol):
    """What the library uses of the active run (a ``Run``)."""

    id: str

    @property
    def trackers(self) -> tuple[Any, ...]:
        """The trackers the run notifies, in order."""

    @property
    def metadata_manager(self) -> RunNames:
        """The names of the run's models and actors."""

    @property
    def experiment(self) -> _NamedExperiment:
        """The experiment the run executes."""

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies the run across Run objects."""

    def is_active(self) -> bool:
        """Whether the run is running."""

    def publish(self, event: events.Event) -> None:
        """Hand an event to the run's trackers."""

    def finish(self, status: RunStatus) -> None:
        """Stop the run, recording the given final status."""


lock = threading.RLock()
_active: list[ActiveRun] = []


def active_run() -> ActiveRun | None:
    """The active run, or None."""
    return _active[0] if _active else None


def require_run() -> ActiveRun:
    """The active run.

    Raises:
        NoActiveRunError: if no run is active.
    """
    if not _active:
        raise exceptions.NoActiveRunError()
    return _active[0]


def publish(event: events.Event) -> None:
    """Hand an event to the active run's trackers.

    Raises:
        AccessOutsideScopeError: if no run is active.
    """
    if not _active:
        raise exceptions.AccessOutsideScopeError()
    _active[0].publish(event)


def enter(run: ActiveRun) -> None:
    """Make ``run`` the active run (the caller holds ``lock``).

    Raises:
        NestedScopeError: if another run is active.
    """
    if _active and _active[0] is not run:
        current = _active[0].experiment.name
        raise exceptions.NestedScopeError(current, run.experiment.name)
    _active[:] = [run]


def leave(run: ActiveRun) -> None:
    """Clear the active run if it is ``run``."""
    with lock:
        if _active and _active[0] is run:
            _active.clear()
