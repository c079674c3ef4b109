"""The hook registry and the basic trainer hooks.

A :class:`HookRegistry` calls its hooks in registration order. The hooks
here wrap plain functions (:class:`Hook`, :class:`StaticHook`), call them
conditionally (:class:`OptionalCallable`, :class:`CallEvery`) and save
checkpoints (``saving_hook``).
"""

from __future__ import annotations

import abc
import functools
import numbers
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Self

    from drytorch.core.protocols import TrainerProtocol

__all__ = [
    'CallEvery',
    'Hook',
    'HookRegistry',
    'OptionalCallable',
    'StaticHook',
    'TrainerHook',
    'call_every',
    'saving_hook',
    'static_hook_class',
]

_T = TypeVar('_T')
_Obj = TypeVar('_Obj')
_In = TypeVar('_In')
_Tgt = TypeVar('_Tgt')
_Out = TypeVar('_Out')
_P = ParamSpec('_P')


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f'Expected {name} to be an integer, got {value!r}.'
        raise TypeError(msg)
    if value < minimum:
        msg = f'Expected {name} >= {minimum}, got {value!r}.'
        raise ValueError(msg)
    return int(value)


class HookRegistry(Generic[_Obj]):
    """An ordered list of hooks called with one argument.

    Attributes:
        hooks: the registered hooks, in calling order.
    """

    def __init__(self) -> None:
        """Create an empty registry."""
        self.hooks: list[Callable[[_Obj], Any]] = []

    def execute(self, obj: _Obj) -> None:
        """Call every hook with ``obj``, in registration order.

        Args:
            obj: the argument of the hooks (the trainer).
        """
        for hook in self.hooks:
            hook(obj)

    def register(self, hook: Callable[[_Obj], Any]) -> None:
        """Append a hook.

        Args:
            hook: a callable taking one argument.

        Raises:
            TypeError: if hook is not callable.
        """
        if not callable(hook):
            msg = f'Expected a callable hook, got {hook!r}.'
            raise TypeError(msg)
        self.hooks.append(hook)

    def register_all(self, hook_list: Sequence[Callable[[_Obj], Any]]) -> None:
        """Append several hooks, keeping their order.

        Args:
            hook_list: callables taking one argument.

        Raises:
            TypeError: if a hook is not callable (none is registered then).
        """
        hooks = list(hook_list)
        for hook in hooks:
            if not callable(hook):
                msg = f'Expected a callable hook, got {hook!r}.'
                raise TypeError(msg)
        self.hooks.extend(hooks)

    def __len__(self) -> int:
        return len(self.hooks)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.hooks!r})'


class TrainerHook(Generic[_In, _Tgt, _Out], abc.ABC):
    """Base class of the hooks that receive the trainer.

    Generic in the trainer's inputs, targets and outputs, like the
    Trainer: ``Hook[Tensor, Tensor, Tensor](fn)``.
    """

    @abc.abstractmethod
    def __call__(self, trainer: TrainerProtocol) -> None:
        """Run the hook.

        Args:
            trainer: the trainer running the hook.
        """

    def bind(self, f: Callable[[Self], _T]) -> _T:
        """Return ``f(self)``, to wrap the hook (see :func:`call_every`).

        Args:
            f: a function of the hook.

        Returns:
            The result of ``f(self)``.
        """
        return f(self)


class Hook(TrainerHook[_In, _Tgt, _Out]):
    """Wrap a function of the trainer.

    Attributes:
        wrapped: the function called with the trainer.
    """

    def __init__(self, wrapped: Callable[[TrainerProtocol], Any]) -> None:
        """Initialize.

        Args:
            wrapped: a function called with the trainer.
        """
        if not callable(wrapped):
            msg = f'Expected a callable, got {wrapped!r}.'
            raise TypeError(msg)
        self.wrapped = wrapped

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Call the wrapped function with the trainer.

        Args:
            trainer: the trainer running the hook.
        """
        self.wrapped(trainer)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.wrapped!r})'


class StaticHook(TrainerHook[Any, Any, Any]):
    """Wrap a function with no arguments (the trainer is not passed).

    Attributes:
        wrapped: the function called.
    """

    def __init__(self, wrapped: Callable[[], Any]) -> None:
        """Initialize.

        Args:
            wrapped: a function called with no arguments.
        """
        if not callable(wrapped):
            msg = f'Expected a callable, got {wrapped!r}.'
            raise TypeError(msg)
        self.wrapped = wrapped

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Call the wrapped function, ignoring the trainer.

        Args:
            trainer: the trainer running the hook (unused).
        """
        self.wrapped()

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.wrapped!r})'


class OptionalCallable(Hook[_In, _Tgt, _Out], abc.ABC):
    """A hook that calls the wrapped function only when a condition holds."""

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Call the wrapped function if :meth:`_should_call` allows it.

        Args:
            trainer: the trainer running the hook.
        """
        if self._should_call(trainer):
            self.wrapped(trainer)

    @abc.abstractmethod
    def _should_call(self, trainer: TrainerProtocol) -> bool:
        """Whether to call the wrapped function now."""


class CallEvery(OptionalCallable[_In, _Tgt, _Out]):
    """Call the wrapped function every ``interval`` epochs from ``start``.

    It is called when ``epoch >= start`` and ``(epoch - start) % interval
    == 0``, and also whenever the trainer is terminated, so that a final
    action (saving, validating) is not skipped.

    Attributes:
        wrapped: the function called with the trainer.
        interval: the number of epochs between calls.
        start: the first epoch of a call.
    """

    def __init__(
        self,
        wrapped: Callable[[TrainerProtocol], Any],
        interval: int,
        start: int = 0,
    ) -> None:
        """Initialize.

        Args:
            wrapped: a function called with the trainer.
            interval: the number of epochs between calls (positive).
            start: the first epoch of a call (non-negative).

        Raises:
            TypeError: if interval or start is not an integer.
            ValueError: if interval < 1 or start < 0.
        """
        super().__init__(wrapped)
        self.interval = _check_int('interval', interval, 1)
        self.start = _check_int('start', start, 0)

    def _should_call(self, trainer: TrainerProtocol) -> bool:
        if trainer.terminated:
            return True
        epoch = trainer.model.epoch
        start = self.start
        return epoch >= start and (epoch - start) % self.interval == 0

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}({self.wrapped!r}, '
            f'interval={self.interval}, start={self.start})'
        )


def call_every(
    interval: int, start: int = 0
) -> Callable[[Callable[[TrainerProtocol], Any]], CallEvery]:
    """Return a decorator that makes a hook run every ``interval`` epochs.

    Use it as ``hook.bind(call_every(5))`` or as ``@call_every(5)`` on a
    function of the trainer. See :class:`CallEvery`.

    Args:
        interval: the number of epochs between calls (positive).
        start: the first epoch of a call (non-negative).

    Returns:
        A function wrapping a hook in a :class:`CallEvery`.

    Raises:
        TypeError: if interval or start is not an integer.
        ValueError: if interval < 1 or start < 0.
    """
    _check_int('interval', interval, 1)
    _check_int('start', start, 0)

    def _decorator(func: Callable[[TrainerProtocol], Any]) -> CallEvery:
        return CallEvery(func, interval, start)

    return _decorator


def _save_checkpoint(trainer: TrainerProtocol) -> None:
    trainer.save_checkpoint()


saving_hook: Hook[Any, Any, Any] = Hook(_save_checkpoint)
"""Hook that saves the trainer's model and optimizer."""


def static_hook_class(
    cls: Callable[_P, Callable[[], Any]],
) -> Callable[_P, StaticHook]:
    """Class decorator: instances of the class are built as StaticHooks.

    The decorated name becomes a factory with the class's signature that
    returns ``StaticHook(cls(*args, **kwargs))``; the class must be callable
    with no arguments. The class itself stays reachable as the factory's
    ``__wrapped__`` (inside its methods, use ``type(self)``).

    Args:
        cls: a class whose instances are callable with no arguments.

    Returns:
        A factory of StaticHook instances.
    """

    @functools.wraps(cls, updated=())
    def _factory(*args: _P.args, **kwargs: _P.kwargs) -> StaticHook:
        return StaticHook(cls(*args, **kwargs))

    return _factory
