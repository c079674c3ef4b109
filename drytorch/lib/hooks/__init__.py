"""Hooks: callables the trainer runs before and after each epoch.

A trainer keeps two :class:`HookRegistry` objects, ``pre_epoch_hooks`` and
``post_epoch_hooks``; each runs its hooks with the trainer as only argument,
in the order they were registered.

Order rule: ``Trainer.add_validation`` registers the validation pass as a
post-epoch hook, so it runs before every post-epoch hook registered after
it and after those registered before it. A monitoring hook (early stopping,
pruning, plateau schedulers) reads the metrics of the last validation pass,
so it must be registered *after* ``add_validation`` to see the current
epoch's metrics; registered before, it sees the previous epoch's values
(or none at all on the first epoch).

Hooks compose with :meth:`TrainerHook.bind`, for example to save a
checkpoint every ten epochs (and when training is terminated)::

    trainer.post_epoch_hooks.register(saving_hook.bind(call_every(10)))

Monitoring hooks (subclasses of :class:`MonitoringHook`) find their value
in the ``computed_metrics`` of a metric source: the one given as
``monitor``, else the trainer's validation, else the trainer itself. Which
direction is better comes from the metric when it declares
``higher_is_better``; with no metric given, the first computed metric is
monitored and the direction comes from the loss (the source's objective,
else the trainer's). Each hook reads its source through a
:class:`MetricMonitor` (its ``metric_monitor``) and takes the
:class:`MonitorOptions` as keyword arguments.

The modules of this package are split by concept: ``registry`` (the
registry and the basic hooks), ``monitoring`` (reading and tracking a
monitored metric), ``callbacks`` (early stopping and pruning) and
``plateau`` (scheduler changes on a plateau). The names in ``__all__`` are
the public interface; import them from here.
"""

from __future__ import annotations

from drytorch.lib.hooks.callbacks import EarlyStoppingCallback, PruneCallback
from drytorch.lib.hooks.monitoring import (
    # the signatures' type aliases stay importable from here, as before
    BestIs,  # noqa: F401
    FilterFn,  # noqa: F401
    MetricExtractor,
    MetricMonitor,
    MonitoringHook,
    MonitorOptions,
    get_last,
)
from drytorch.lib.hooks.plateau import (
    ChangeSchedulerOnPlateauCallback,
    PlateauOptions,
    ReduceLROnPlateau,
    RestartScheduleOnPlateau,
)
from drytorch.lib.hooks.registry import (
    CallEvery,
    Hook,
    HookRegistry,
    OptionalCallable,
    StaticHook,
    TrainerHook,
    call_every,
    saving_hook,
    static_hook_class,
)

__all__ = [
    'CallEvery',
    'ChangeSchedulerOnPlateauCallback',
    'EarlyStoppingCallback',
    'Hook',
    'HookRegistry',
    'MetricExtractor',
    'MetricMonitor',
    'MonitorOptions',
    'MonitoringHook',
    'OptionalCallable',
    'PlateauOptions',
    'PruneCallback',
    'ReduceLROnPlateau',
    'RestartScheduleOnPlateau',
    'StaticHook',
    'TrainerHook',
    'call_every',
    'get_last',
    'saving_hook',
    'static_hook_class',
]
