"""Hyperparameter sweeps with optuna.

Needs the ``optuna`` extra (``pip install 'drytorch[optuna]'``).

* :class:`TrialCallback` is a post-epoch hook: it reports the monitored
  value to the trial at every epoch and, when the trial's pruner says so,
  terminates training and raises ``optuna.TrialPruned``.
* :func:`suggest_overrides` draws a trial's values from a configuration
  spec and returns them as Hydra override strings.
* :func:`get_final_value` reduces the values a trial reported.
* :func:`trial_run` runs a trial as a recorded run of an experiment (a
  pruned trial's run is recorded ``completed``: it was stopped on purpose),
  so that every trial of a sweep is listed with the other runs.

A sweep that outgrows one process uses optuna's own distributed mode: the
workers share a study stored in a database (``optuna.create_study(
storage='postgresql://...', load_if_exists=True)``). Each trial is then a
run with its own id, allocated under the registry's lock, whichever worker
runs it.
"""

from __future__ import annotations

import contextlib
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

try:
    import optuna
except ImportError as _error:
    _msg = (
        "drytorch.contrib.optuna needs the 'optuna' extra: "
        "pip install 'drytorch[optuna]'"
    )
    raise ImportError(_msg, name='optuna') from _error

from drytorch.core import exceptions
from drytorch.lib.hooks.monitoring import (
    BestIs,
    FilterFn,
    MetricMonitor,
    MonitoringHook,
    get_last,
)

if TYPE_CHECKING:
    from drytorch.core.experiment import Experiment, Run
    from drytorch.core.protocols import MonitorProtocol, TrainerProtocol

__all__ = [
    'OptunaError',
    'TrialCallback',
    'get_final_value',
    'suggest_overrides',
    'trial_run',
]

_Out = TypeVar('_Out')
_Tgt = TypeVar('_Tgt')

RUN_ID_ATTR = 'drytorch_run_id'
"""The trial's user attribute holding the id of its run (trial_run)."""


class OptunaError(exceptions.DryTorchError, ValueError):
    """A sweep is set up wrongly (a bad spec, a trial without values)."""

    fields = ('detail',)
    msg_fmt = 'Optuna: {detail}'


class TrialCallback(MonitoringHook[_Out, _Tgt], Generic[_Out, _Tgt]):
    """Report the monitored value to a trial; prune when it says so.

    Register it after ``add_validation`` to monitor the validation.

    Attributes:
        metric_monitor: the metric monitor.
        trial: the optuna trial.
        reported: the value reported at each epoch.
    """

    def __init__(
        self,
        trial: optuna.Trial,
        filter_fn: FilterFn = get_last,
        metric: str | object | None = None,
        monitor: MonitorProtocol | None = None,
        min_delta: float = 1e-8,
        best_is: BestIs = 'auto',
    ) -> None:
        """Args:
        trial: the optuna trial.
        filter_fn: function from the history to the reported value.
        metric, monitor, min_delta, best_is: as in
            :class:`~drytorch.lib.hooks.MetricMonitor` and
            :class:`~drytorch.lib.hooks.MonitorOptions`.
        """  # noqa: D205
        self.metric_monitor = MetricMonitor(
            metric,
            monitor,
            min_delta=min_delta,
            best_is=best_is,
            filter_fn=filter_fn,
        )
        self.trial = trial
        self.reported: dict[int, float] = {}

    def __call__(self, trainer: TrainerProtocol) -> None:
        """Report this epoch's value; prune the trial if it should be.

        Raises:
            optuna.TrialPruned: after terminating training, if the trial's
                pruner prunes it.
        """
        monitor = self.metric_monitor
        monitor.record_metric_value(trainer)
        epoch = trainer.model.epoch
        value = monitor.filtered_value
        self.trial.report(value, epoch)
        self.reported[epoch] = value
        if self.trial.should_prune():
            reason = (
                f'optuna pruned trial {self.trial.number} at epoch {epoch} '
                f'({monitor.metric_name}={value!r})'
            )
            trainer.terminate_training(reason)
            raise optuna.TrialPruned(reason)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(trial={self.trial.number})'


def _get(spec: Any, key: str, where: str) -> Any:
    """``spec[key]`` for a mapping or a DictConfig, or OptunaError."""
    try:
        return spec[key]
    except (KeyError, TypeError, AttributeError) as error:
        raise OptunaError(f'expected {where} to have {key!r}') from error


def _display_name(setting: str) -> str:
    """'train.learning_rate' -> 'Learning Rate', 'widths.0' -> 'Widths 0'."""
    *prefix, last = setting.rsplit('.', maxsplit=2)
    if last.isdigit() and prefix:
        last = f'{prefix[-1]} {last}'
    return string.capwords(last.replace('_', ' '))


def _suggest(
    trial: optuna.Trial, method: Any, name: str, settings: Any
) -> Any:
    suggest = getattr(trial, str(method), None)
    if not str(method).startswith('suggest_') or not callable(suggest):
        raise OptunaError(f'{method!r} is not a suggest method of a trial')
    try:
        return suggest(name, **dict(settings))
    except TypeError as error:
        raise OptunaError(f'bad settings for {method}: {error}') from error


def suggest_overrides(
    tune_cfg: Any, trial: optuna.Trial, use_full_name: bool = False
) -> list[str]:
    """Draw a trial's values from a spec; return them as Hydra overrides.

    The spec (a mapping or an OmegaConf DictConfig) has ``overrides``, a
    list of fixed override strings, and ``tune.params``, which maps each
    setting (``train.lr``) to ``suggest``, the name of a trial method
    (``suggest_float``...), and ``settings``, its keyword arguments. With
    ``suggest: suggest_list``, ``settings`` holds ``min_length``,
    ``max_length`` and a nested ``suggest`` and ``settings`` for the
    elements: the length is drawn first, then each element.

    Args:
        tune_cfg: the spec.
        trial: the trial that draws the values.
        use_full_name: show optuna the settings' full names, instead of
            readable ones (``train.learning_rate`` -> ``Learning Rate``).

    Returns:
        ``overrides`` followed by one ``setting=value`` per setting.

    Raises:
        OptunaError: if the spec is malformed or names no suggest method.
    """
    overrides = [str(item) for item in _get(tune_cfg, 'overrides', 'the spec')]
    params = _get(_get(tune_cfg, 'tune', 'the spec'), 'params', 'tune')
    if not isinstance(params, Mapping) and not hasattr(params, 'items'):
        raise OptunaError('expected tune.params to be a mapping')
    for setting, spec in params.items():
        name = setting if use_full_name else _display_name(str(setting))
        method = _get(spec, 'suggest', setting)
        settings = _get(spec, 'settings', setting)
        if method == 'suggest_list':
            length = trial.suggest_int(
                f'{name} #',
                _get(settings, 'min_length', f'{setting}.settings'),
                _get(settings, 'max_length', f'{setting}.settings'),
            )
            element_method = _get(settings, 'suggest', f'{setting}.settings')
            element_settings = _get(
                settings, 'settings', f'{setting}.settings'
            )
            value: Any = [
                _suggest(
                    trial, element_method, f'{name} {i}', element_settings
                )
                for i in range(length)
            ]
        else:
            value = _suggest(trial, method, name, settings)
        overrides.append(f'{setting}={value}')
    return overrides


def get_final_value(
    trial: optuna.Trial,
    filter_fn: Callable[[Sequence[float]], float] | None = None,
) -> float:
    """Reduce the values a trial reported (with ``trial.report``).

    Args:
        trial: a trial of ``study.optimize`` (a trial from ``study.ask``
            has no stored intermediate values).
        filter_fn: the reduction; default: the best value in the study's
            direction (min when minimizing, max when maximizing).

    Returns:
        The reduced value.

    Raises:
        OptunaError: if the study has no such trial, or it reported
            nothing.
    """
    study = trial.study
    if filter_fn is None:
        minimize = study.direction == optuna.study.StudyDirection.MINIMIZE
        filter_fn = min if minimize else max
    for frozen in reversed(study.get_trials(deepcopy=False)):
        if frozen.number == trial.number:
            break
    else:
        raise OptunaError(f'the study has no trial {trial.number}')
    values = list(frozen.intermediate_values.values())
    if not values:
        raise OptunaError(
            f'trial {trial.number} reported no value; report values with a '
            'TrialCallback inside study.optimize'
        )
    return filter_fn(values)


@contextlib.contextmanager
def trial_run(
    experiment: Experiment[Any], trial: optuna.Trial, run_id: str | None = None
) -> Iterator[Run]:
    """Run a trial as a recorded run of the experiment.

    The run's id is stored in the trial's user attributes
    (``drytorch_run_id``). A pruned trial's run is recorded ``completed``
    (its training was terminated on purpose) and ``TrialPruned`` goes on
    to optuna; any other error records it ``failed``.

    Args:
        experiment: the experiment; usually one per trial, with the
            trial's configuration, all under the same name.
        trial: the trial.
        run_id: the run's id; default: a new unique id.

    Yields:
        The started run.
    """
    run = experiment.create_run(run_id=run_id)
    trial.set_user_attr(RUN_ID_ATTR, run.id)
    run.start()
    try:
        yield run
    except optuna.TrialPruned:
        run.finish('completed')
        raise
    except KeyboardInterrupt:
        run.finish('interrupted')
        raise
    except BaseException:
        run.finish('failed')
        raise
    run.finish('completed')
