"""Trackers and dispatch: routing, singledispatch subclasses, isolation."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import pytest
from conftest import Config, RecordingTracker
from typing_extensions import override

from drytorch.core import events, exceptions, track
from drytorch.core.experiment import Experiment
from drytorch.core.track import EventDispatcher, Tracker


class MetricOnly(Tracker):
    def __init__(self) -> None:
        self.metrics: list[events.MetricEvent] = []

    @track.on(events.MetricEvent)
    def _on_metric(self, event: events.MetricEvent) -> None:
        self.metrics.append(event)


class Failing(Tracker):
    def __init__(self) -> None:
        self.calls = 0
        self.cleaned = 0

    @track.on(events.StartRunEvent)
    def _boom(self, event: events.StartRunEvent) -> None:
        self.calls += 1
        raise OSError('disk full')

    def clean_up(self) -> None:
        self.cleaned += 1


class SingleDispatch(Tracker):
    """Written the seed tutorial's way."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @functools.singledispatchmethod
    @override
    def notify(self, event: events.Event) -> None:
        return super().notify(event)

    @notify.register
    def _(self, event: events.ModelRegistrationEvent) -> None:
        self.seen.append(event.model_name)
        return super().notify(event)


def metric_event() -> events.MetricEvent:
    return events.MetricEvent('m', 's', 1, {'a': 1.0})


def test_routing_only_to_handlers() -> None:
    dispatcher = EventDispatcher('E')
    metric = MetricOnly()
    dispatcher.subscribe(metric)
    dispatcher.publish(events.EndTrainingEvent('x'))
    dispatcher.publish(metric_event())
    assert len(metric.metrics) == 1
    assert not MetricOnly.handles(events.EndTrainingEvent)
    assert MetricOnly.handles(events.StopRunEvent)


def test_base_handler_receives_subclasses(recorder: RecordingTracker) -> None:
    dispatcher = EventDispatcher('E')
    dispatcher.subscribe(recorder)
    dispatcher.publish(metric_event())
    dispatcher.publish(events.EndTrainingEvent('x'))
    assert recorder.names() == ['MetricEvent', 'EndTrainingEvent']


def test_subclass_override_replaces_handler() -> None:
    class Child(MetricOnly):
        def __init__(self) -> None:
            super().__init__()
            self.child_calls = 0

        @track.on(events.MetricEvent)
        def _on_metric(self, event: events.MetricEvent) -> None:
            self.child_calls += 1

    child = Child()
    child.notify(metric_event())
    assert child.child_calls == 1
    assert child.metrics == []


def test_on_rejects_non_events() -> None:
    with pytest.raises(TypeError, match='Event'):
        track.on(int)  # type: ignore[arg-type]


def test_duplicate_subscription() -> None:
    dispatcher = EventDispatcher('E')
    dispatcher.subscribe(MetricOnly())
    with pytest.raises(exceptions.TrackerAlreadyRegisteredError):
        dispatcher.subscribe(MetricOnly())
    dispatcher.subscribe(other=MetricOnly())
    assert list(dispatcher.named_trackers) == ['MetricOnly', 'other']


def test_remove() -> None:
    dispatcher = EventDispatcher('E')
    dispatcher.subscribe(MetricOnly())
    dispatcher.remove('MetricOnly')
    with pytest.raises(exceptions.TrackerNotUsedError):
        dispatcher.remove('MetricOnly')


def test_subscribe_rejects_non_tracker() -> None:
    with pytest.raises(TypeError, match='Tracker'):
        EventDispatcher('E').subscribe(object())  # type: ignore[arg-type]


def test_failing_tracker_detached_from_run_only(config: Config) -> None:
    exp = Experiment(config, name='E')
    failing = Failing()
    exp.trackers.subscribe(failing)
    for _ in range(2):
        with pytest.warns(exceptions.TrackerExceptionWarning, match='disk'):
            with exp.create_run():
                pass
    # detached from each run, still subscribed to the experiment
    assert failing.calls == 2
    assert failing.cleaned == 2
    assert 'Failing' in exp.trackers.named_trackers


def test_failing_tracker_does_not_stop_others(
    config: Config, recorder: RecordingTracker
) -> None:
    exp = Experiment(config, name='E')
    exp.trackers.subscribe(Failing(), recorder)
    with pytest.warns(exceptions.TrackerExceptionWarning):
        with exp.create_run():
            pass
    assert recorder.names() == [
        'StartRunEvent',
        'StopRunEvent',
    ]


def test_keyboard_interrupt_propagates(config: Config) -> None:
    class Interrupting(Tracker):
        @track.on(events.MetricEvent)
        def _stop(self, event: events.MetricEvent) -> None:
            raise KeyboardInterrupt

    dispatcher = EventDispatcher('E')
    dispatcher.subscribe(Interrupting())
    with pytest.raises(KeyboardInterrupt):
        dispatcher.publish(metric_event())


def test_singledispatch_subclass_still_works(config: Config) -> None:
    from torch import nn

    from drytorch.lib.models import Model

    exp = Experiment(config, name='E')
    tracker = SingleDispatch()
    exp.trackers.subscribe(tracker)
    with exp.create_run():
        Model(nn.Linear(1, 1), name='lin')
        assert SingleDispatch.get_current() is tracker
    assert tracker.seen == ['lin']
    with pytest.raises(exceptions.TrackerNotUsedError):
        SingleDispatch.get_current()


def test_late_subscription_gets_start_event(
    config: Config, recorder: RecordingTracker
) -> None:
    exp = Experiment(config, name='E')
    with exp.create_run(run_id='r'):
        exp.trackers.subscribe(recorder)
        assert RecordingTracker.get_current() is recorder
    assert recorder.names() == [
        'StartRunEvent',
        'StopRunEvent',
    ]


def test_defaults_copied_at_construction(config: Config) -> None:
    metric = MetricOnly()
    track.extend_default_trackers([metric])
    exp = Experiment(config, name='E')
    assert exp.trackers.named_trackers == {'MetricOnly': metric}
    track.remove_all_default_trackers()
    assert Experiment(config, name='F').trackers.named_trackers == {}


def test_extend_defaults_rejects_non_trackers() -> None:
    with pytest.raises(TypeError):
        track.extend_default_trackers([object()])  # type: ignore[list-item]


def test_handlers_of_the_rc_event_names_still_fire(config: Config) -> None:
    """Trackers written for 0.1.0rc5/rc11 name the run events as before."""
    from drytorch.core import log_events

    class OldStyle(Tracker):
        def __init__(self) -> None:
            self.seen: list[str] = []

        @track.on(log_events.StartExperimentEvent)
        def _on_start(self, event: log_events.StartExperimentEvent) -> None:
            self.seen.append(f'start {event.run_id}')

        @track.on(log_events.StopExperimentEvent)
        def _on_stop(self, event: log_events.StopExperimentEvent) -> None:
            self.seen.append(f'stop {event.status}')

    old_style = OldStyle()
    exp = Experiment(config, name='E')
    exp.trackers.subscribe(old_style)
    with exp.create_run(run_id='r'):
        pass
    assert old_style.seen == ['start r', 'stop completed']


def test_get_current_follows_the_active_run(config: Config) -> None:
    exp = Experiment(config, name='E')
    first, second = MetricOnly(), MetricOnly()
    exp.trackers.subscribe(first)
    with pytest.raises(exceptions.TrackerNotUsedError):
        MetricOnly.get_current()  # no run yet
    with exp.create_run():
        assert MetricOnly.get_current() is first
        exp.trackers.subscribe(other=second)
        assert MetricOnly.get_current() is second  # the last subscribed
        exp.trackers.remove('other')
        assert MetricOnly.get_current() is first
        with pytest.raises(exceptions.TrackerNotUsedError):
            SingleDispatch.get_current()
    with pytest.raises(exceptions.TrackerNotUsedError):
        MetricOnly.get_current()


def test_get_current_ignores_subclass_instances(config: Config) -> None:
    class Child(MetricOnly):
        pass

    exp = Experiment(config, name='E')
    child = Child()
    exp.trackers.subscribe(child)
    with exp.create_run():
        assert Child.get_current() is child
        with pytest.raises(exceptions.TrackerNotUsedError):
            MetricOnly.get_current()


def test_a_detached_tracker_is_not_current(config: Config) -> None:
    exp = Experiment(config, name='E')
    exp.trackers.subscribe(Failing())
    with pytest.warns(exceptions.TrackerExceptionWarning):
        with exp.create_run():
            with pytest.raises(exceptions.TrackerNotUsedError):
                Failing.get_current()


class ProgressRecorder(Tracker):
    """Hands a ProgressCallback of its own to every pass."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, float], int, int]] = []

    @track.on(events.IterateBatchEvent)
    def _on_iterate(self, event: events.IterateBatchEvent) -> None:
        callback: events.ProgressCallback = self._progress
        event.push_updates.append(callback)

    def _progress(
        self, metrics: Mapping[str, float], n_processes: int, n_batches: int
    ) -> None:
        self.calls.append((dict(metrics), n_processes, n_batches))


def test_a_progress_callback_follows_the_pass(config: Config) -> None:
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset

    from drytorch.lib.evaluations import Test
    from drytorch.lib.load import DataLoader
    from drytorch.lib.models import Model
    from drytorch.lib.objectives import Metric

    def zero(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return (outputs * 0).mean()

    data = TensorDataset(torch.zeros(10, 1), torch.zeros(10, 1))
    recorder = ProgressRecorder()
    exp = Experiment(config, name='E')
    exp.trackers.subscribe(recorder)
    with exp.create_run():
        model = Model(nn.Linear(1, 1), name='lin')
        loader = DataLoader(data, batch_size=4)
        Test(model, loader=loader, metric=Metric(zero, 'Zero'))()
    # the batches add up to the pass; the last call brings the final metrics
    assert sum(n_batches for _, _, n_batches in recorder.calls) == 3
    assert all(n_processes == 1 for _, n_processes, _ in recorder.calls)
    assert recorder.calls[-1][0] == {'Zero': 0.0}


def test_a_run_lists_the_trackers_it_notifies(
    config: Config, recorder: RecordingTracker
) -> None:
    exp = Experiment(config, name='E')
    exp.trackers.subscribe(recorder)
    run = exp.create_run(run_id='r')
    assert run.trackers == ()
    with run:
        assert recorder in run.trackers
        late = SingleDispatch()
        exp.trackers.subscribe(late)
        assert run.trackers[-1] is late
