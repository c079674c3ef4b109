"""Implementation of :mod:`drytorch.lib.gradient_ops`, one concept a module.

The modules here are private: import the public names from
``drytorch.lib.gradient_ops``.
"""

from __future__ import annotations

__all__: list[str] = []
