"""Trackers and the dispatcher that feeds them events.

A :class:`Tracker` declares which events it handles with the :func:`on`
decorator; each tracker class gets a table from event type to handlers,
built once when the class is created. A dispatcher routes an event with one
dictionary lookup to the trackers that handle its type: an event a tracker
ignores costs nothing.

Subclasses written the ``functools.singledispatchmethod`` way (overriding
``notify`` and calling ``super().notify(event)``) keep working: a tracker that
overrides ``notify`` receives every event through it.

A tracker that raises is reported with a :class:`TrackerExceptionWarning`,
cleaned up and detached from the current run only; the experiment goes on.

The default trackers (:data:`DEFAULT_TRACKERS`) are chosen lazily: see
:class:`DefaultTrackerSetup`.

Tracker authors import these names from :mod:`drytorch.trackers`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from drytorch.core import events, exceptions, scope

__all__ = [
    'DEFAULT_TRACKERS',
    'EventDispatcher',
    'Tracker',
    'extend_default_trackers',
    'on',
    'remove_all_default_trackers',
]

_T = TypeVar('_T', bound='Tracker')
_Handler = Callable[[Any, Any], None]
_Notify = Callable[[Any], None]
_F = TypeVar('_F', bound=Callable[..., None])

DEFAULT_TRACKERS: dict[str, Tracker] = {}
"""Trackers subscribed to every Experiment created afterwards."""


@dataclasses.dataclass
class DefaultTrackerSetup:
    """Whether and how :data:`DEFAULT_TRACKERS` were chosen.

    Importing drytorch installs nothing. The first Experiment calls
    :func:`ensure_default_trackers`, which runs ``installer`` once (the
    package sets it to apply the ``DRYTORCH_INIT_MODE`` preset), unless the
    defaults were chosen before: by ``init_trackers``, which records its
    ``mode``, or by :func:`remove_all_default_trackers`.

    Attributes:
        installer: fills DEFAULT_TRACKERS when they are first needed.
        chosen: whether the defaults were installed or chosen explicitly.
        mode: the init mode that ``init_trackers`` applied last, if any.
    """

    installer: Callable[[], None] | None = None
    chosen: bool = False
    mode: str | None = None


default_setup = DefaultTrackerSetup()
"""The state of the default trackers of this process."""


def on(*event_types: type[events.Event]) -> Callable[[_F], _F]:
    """Mark a Tracker method as the handler of the given event types.

    Handlers of an event base class (e.g. ``Event``) receive every subclass.
    A subclass method with the same name replaces the inherited handler.
    """
    if not event_types:
        msg = 'on() expects at least one event type, got none.'
        raise TypeError(msg)
    for event_type in event_types:
        if not (
            isinstance(event_type, type)
            and issubclass(event_type, events.Event)
        ):
            msg = f'on() expects Event subclasses, got {event_type!r}.'
            raise TypeError(msg)

    def _decorate(func: _F) -> _F:
        func._drytorch_events = event_types  # type: ignore[attr-defined]
        return func

    return _decorate


class Tracker:
    """Base class of event consumers.

    Subclasses handle events with methods decorated by :func:`on`, or by
    overriding :meth:`notify` (calling ``super().notify(event)``).
    """

    _handler_table: ClassVar[dict[type, tuple[_Handler, ...]]] = {}
    _resolved: ClassVar[dict[type, tuple[_Handler, ...]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        by_name: dict[str, tuple[_Handler, tuple[type, ...]]] = {}
        for klass in reversed(cls.__mro__):
            for name, attr in vars(klass).items():
                handled = getattr(attr, '_drytorch_events', None)
                if handled is not None:
                    by_name[name] = (attr, handled)
                elif name in by_name:
                    del by_name[name]  # overridden without @on: no handler
        table: dict[type, list[_Handler]] = {}
        for func, handled in by_name.values():
            for event_type in handled:
                table.setdefault(event_type, []).append(func)
        cls._handler_table = {k: tuple(v) for k, v in table.items()}
        cls._resolved = {}

    @classmethod
    def _handlers_for(cls, event_type: type) -> tuple[_Handler, ...]:
        """The handlers of an event type, resolved along its MRO once."""
        try:
            return cls._resolved[event_type]
        except KeyError:
            pass
        found: list[_Handler] = []
        for klass in event_type.__mro__:
            for handler in cls._handler_table.get(klass, ()):
                if handler not in found:
                    found.append(handler)
        resolved = tuple(found)
        cls._resolved[event_type] = resolved
        return resolved

    @classmethod
    def handles(cls, event_type: type[events.Event]) -> bool:
        """Whether instances need to receive events of this type."""
        if cls.notify is not Tracker.notify:
            return True
        if event_type is events.StopRunEvent:
            return True  # notify calls clean_up
        return bool(cls._handlers_for(event_type))

    def notify(self, event: events.Event) -> None:
        """Handle an event: run this tracker's handlers for its type."""
        event_type = type(event)
        for handler in self._handlers_for(event_type):
            handler(self, event)
        if event_type is events.StopRunEvent:
            self.clean_up()

    def clean_up(self) -> None:
        """Release the resources of the run (called when it stops)."""

    @classmethod
    def get_current(cls: type[_T]) -> _T:
        """The instance of this very class that the active run uses.

        With several, the last subscribed. Instances of subclasses do not
        count.

        Raises:
            TrackerNotUsedError: if no run is active or its trackers include
                no instance of this class.
        """
        run = scope.active_run()
        # the run's own trackers: those that failed are dropped from them
        for tracker in reversed(() if run is None else run.trackers):
            if type(tracker) is cls:
                return tracker  # type: ignore[no-any-return]
        raise exceptions.TrackerNotUsedError(cls.__name__)


class EventDispatcher:
    """Named trackers of an experiment (or of a run), and event routing.

    Attributes:
        exp_name: the name of the experiment.
        named_trackers: the subscribed trackers by name, in order.
    """

    def __init__(self, exp_name: str) -> None:
        self.exp_name = exp_name
        self.named_trackers: dict[str, Tracker] = {}
        self._routes: dict[type, tuple[tuple[str, _Notify], ...]] = {}
        self._listeners: list[EventDispatcher] = []
        self._parent: EventDispatcher | None = None

    def __repr__(self) -> str:
        names = ', '.join(self.named_trackers)
        return f'{type(self).__name__}({self.exp_name!r}: {names})'

    def subscribe(self, *trackers: Tracker, **named_trackers: Tracker) -> None:
        """Add trackers, keyed by class name or by the given keyword.

        Raises:
            TrackerAlreadyRegisteredError: if the name is taken.
            TypeError: if an argument is not a Tracker.
        """
        pairs = [(type(t).__name__, t) for t in trackers]
        pairs += list(named_trackers.items())
        seen = set(self.named_trackers)
        for name, tracker in pairs:
            if not isinstance(tracker, Tracker):
                msg = f'Expected a Tracker, got {type(tracker).__name__}.'
                raise TypeError(msg)
            if name in seen:
                raise exceptions.TrackerAlreadyRegisteredError(
                    name, self.exp_name
                )
            seen.add(name)
        for name, tracker in pairs:
            self.named_trackers[name] = tracker
            for listener in self._listeners:
                listener._added(name, tracker)
        self._routes.clear()

    def remove(self, tracker_name: str) -> None:
        """Remove a tracker by name.

        Raises:
            TrackerNotUsedError: if no tracker has that name.
        """
        if tracker_name not in self.named_trackers:
            raise exceptions.TrackerNotUsedError(tracker_name)
        del self.named_trackers[tracker_name]
        self._routes.clear()
        for listener in self._listeners:
            listener._removed(tracker_name)

    def remove_all(self) -> None:
        """Remove every tracker."""
        for name in list(self.named_trackers):
            self.remove(name)

    def close(self) -> None:
        """Stop following the dispatcher this one was copied from."""
        parent, self._parent = self._parent, None
        if parent is not None and self in parent._listeners:
            parent._listeners.remove(self)

    def _added(self, name: str, tracker: Tracker) -> None:
        if name not in self.named_trackers:
            self.named_trackers[name] = tracker
            self._routes.clear()
            self._on_late_subscription(tracker)

    def _removed(self, name: str) -> None:
        if self.named_trackers.pop(name, None) is not None:
            self._routes.clear()

    def _on_late_subscription(self, tracker: Tracker) -> None:
        """Hook for subclasses: a tracker joined after the run started."""

    def _route(self, event_type: type) -> tuple[tuple[str, _Notify], ...]:
        route = tuple(
            (name, tracker.notify)
            for name, tracker in self.named_trackers.items()
            if type(tracker).handles(event_type)
        )
        self._routes[event_type] = route
        return route

    def publish(self, event: events.Event) -> None:
        """Notify the trackers that handle this event, in order.

        A tracker that raises (anything but KeyboardInterrupt/SystemExit) is
        warned about, cleaned up and removed from this dispatcher.
        """
        route = self._routes.get(type(event))
        if route is None:
            route = self._route(type(event))
        for name, notify in route:
            try:
                notify(event)
            except Exception as error:
                self._detach(name, error)

    def _detach(self, name: str, error: Exception) -> None:
        tracker = self.named_trackers.pop(name, None)
        self._routes.clear()
        warnings.warn(
            exceptions.TrackerExceptionWarning(name, error), stacklevel=3
        )
        if tracker is not None:
            with contextlib.suppress(Exception):  # already reported
                tracker.clean_up()


def set_defaults_initializer(initializer: Callable[[], None]) -> None:
    """Set the function that fills DEFAULT_TRACKERS when first needed."""
    default_setup.installer = initializer


def ensure_default_trackers() -> None:
    """Install the default trackers once, lazily (not at import)."""
    if default_setup.chosen:
        return
    default_setup.chosen = True
    if default_setup.installer is not None:
        default_setup.installer()


def mark_defaults_ready() -> None:
    """Record that the defaults were chosen explicitly (init_trackers)."""
    default_setup.chosen = True


def extend_default_trackers(tracker_list: Iterable[Tracker]) -> None:
    """Add trackers to the defaults, keyed by class name.

    A later tracker of the same class replaces the earlier one.
    """
    ensure_default_trackers()
    for tracker in tracker_list:
        if not isinstance(tracker, Tracker):
            msg = f'Expected a Tracker, got {type(tracker).__name__}.'
            raise TypeError(msg)
        DEFAULT_TRACKERS[type(tracker).__name__] = tracker


def remove_all_default_trackers() -> None:
    """Empty the default trackers (no defaults are installed afterwards)."""
    mark_defaults_ready()
    DEFAULT_TRACKERS.clear()


def __getattr__(name: str) -> Any:
    # MetadataManager lived here in 0.1.0rc5; it is loaded on first access,
    # since its module needs torch and importing drytorch must not
    if name == 'MetadataManager':
        from drytorch.core.metadata import MetadataManager

        return MetadataManager
    msg = f'module {__name__!r} has no attribute {name!r}'
    raise AttributeError(msg)
