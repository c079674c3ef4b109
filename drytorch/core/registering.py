"""Registration of models and actors, under the name of drytorch 0.1.0rc11.

0.1.0rc11 renamed ``drytorch.core.register`` to this; both import paths
give the same functions and registries (see :mod:`drytorch.core.register`).
"""

from __future__ import annotations

from drytorch.core.register import (
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
