"""The events under their module name of drytorch 0.1.0rc5 and 0.1.0rc11.

The module holds events, not logs: it is now :mod:`drytorch.core.events`.
Both import paths give the same objects, so a handler registered with
``@on(log_events.MetricEvent)`` receives the ``events.MetricEvent`` the
library publishes.
"""

from drytorch.core import events as _events
from drytorch.core.events import *  # noqa: F403

__all__ = list(_events.__all__)
