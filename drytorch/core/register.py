"""Registration of models and actors, under its module name of 0.1.0rc5.

The module is :mod:`drytorch.core.registering` (the name 0.1.0rc11 gave
it); this path gives the same functions and the same registries.
"""

from __future__ import annotations

from drytorch.core.registering import (
    ALL_ACTORS,
    ALL_MODULES,
    register_actor,
    register_model,
    registered_model,
    unregister_actor,
    unregister_model,
)

__all__ = [
    'ALL_ACTORS',
    'ALL_MODULES',
    'register_actor',
    'register_model',
    'registered_model',
    'unregister_actor',
    'unregister_model',
]
