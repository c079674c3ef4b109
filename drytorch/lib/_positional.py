"""Positional arguments in the order of the reference releases.

Some constructors here declare their options once, as keyword arguments
(a ``TypedDict`` unpacked into ``**options``), where drytorch 0.1.0rc5 and
0.1.0rc11 listed each as an ordinary parameter: calls such as
``EarlyStoppingCallback('loss', None, 1e-3, 5)`` or
``EMAModel(net, 'ema', 'cpu')`` were valid and must stay so.
:func:`reference_positionals` maps those extra positional arguments onto
the keywords, at run time; type checkers see the keyword form, which new
code should use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ['reference_positionals']

_Init = TypeVar('_Init', bound=Callable[..., None])


def reference_positionals(*names: str) -> Callable[[_Init], _Init]:
    """Let a constructor take its keyword options by position too.

    Positional arguments past the ones ``__init__`` declares stand for
    ``names``, in order.

    Args:
        names: the keywords the extra positional arguments stand for.

    Returns:
        A decorator for ``__init__``.

    Raises:
        TypeError: from the decorated constructor, for more positional
            arguments than it and ``names`` allow, or for an option given
            both by position and by keyword.
    """

    def decorate(init: _Init) -> _Init:
        # the parameters that are positional anyway, self included
        declared = init.__code__.co_argcount

        @functools.wraps(init)
        def wrapper(self: object, *args: Any, **kwargs: Any) -> None:
            extra = args[declared - 1 :]
            if extra:
                if len(extra) > len(names):
                    most = declared - 1 + len(names)
                    msg = (
                        f'{init.__qualname__}() takes at most {most} '
                        f'positional arguments, got {len(args)}.'
                    )
                    raise TypeError(msg)
                for name, value in zip(names, extra, strict=False):
                    if name in kwargs:
                        msg = (
                            f'{init.__qualname__}() got multiple values '
                            f'for argument {name!r}.'
                        )
                        raise TypeError(msg)
                    kwargs[name] = value
                args = args[: declared - 1]
            init(self, *args, **kwargs)

        return cast('_Init', wrapper)

    return decorate
