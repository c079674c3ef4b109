"""Experiments and runs: lifecycle, resume, scope, configuration access."""

from __future__ import annotations

import dataclasses
import pathlib

import pytest
from conftest import Config, RecordingTracker

from drytorch.core import events, exceptions, scope
from drytorch.core.experiment import Experiment


class MyExp(Experiment[Config]):
    pass


class OtherExp(Experiment[Config]):
    pass


def statuses(exp: Experiment) -> dict[str, str]:
    return {r.id: r.status for r in exp.registry.load_all()}


def test_context_manager_records_completed(config: Config) -> None:
    exp = MyExp(config, name='E')
    with exp.create_run(run_id='r1') as run:
        assert run.is_active()
        assert scope.active_run() is run
        assert statuses(exp) == {'r1': 'running'}
    assert run.status == 'completed'
    assert statuses(exp) == {'r1': 'completed'}
    assert scope.active_run() is None


def test_create_run_records_created(config: Config) -> None:
    exp = MyExp(config, name='E')
    run = exp.create_run()
    assert statuses(exp) == {run.id: 'created'}


def test_exception_records_failed_and_propagates(config: Config) -> None:
    exp = MyExp(config, name='E')
    with pytest.raises(ZeroDivisionError), exp.create_run(run_id='r'):
        _ = 1 / 0
    assert statuses(exp) == {'r': 'failed'}


def test_keyboard_interrupt_records_interrupted(config: Config) -> None:
    exp = MyExp(config, name='E')
    with pytest.raises(KeyboardInterrupt), exp.create_run(run_id='r'):
        raise KeyboardInterrupt
    assert statuses(exp) == {'r': 'interrupted'}


def test_start_stop(config: Config) -> None:
    exp = MyExp(config, name='E')
    run = exp.create_run()
    run.start()
    run.stop()
    assert statuses(exp) == {run.id: 'completed'}
    with pytest.warns(exceptions.RunAlreadyCompletedWarning):
        run.stop()


def test_stop_before_start_warns(config: Config) -> None:
    run = MyExp(config, name='E').create_run()
    with pytest.warns(exceptions.RunNotStartedWarning):
        run.stop()


def test_start_twice_warns(config: Config) -> None:
    with MyExp(config, name='E').create_run() as run:
        with pytest.warns(exceptions.RunAlreadyRunningWarning):
            run.start()


def test_runs_in_same_second_get_distinct_ids(config: Config) -> None:
    exp = MyExp(config, name='E')
    ids = []
    for _ in range(3):
        with exp.create_run() as run:
            ids.append(run.id)
    assert len(set(ids)) == 3
    assert set(statuses(exp).values()) == {'completed'}


def test_resume_keeps_id(config: Config) -> None:
    exp = MyExp(config, name='E')
    with exp.create_run() as run:
        first = run.id
    with exp.create_run(resume=True) as run:
        assert run.resumed
        assert run.id == first
    assert statuses(exp) == {first: 'completed'}
    assert exp.registry.get(first).n_starts == 2  # type: ignore[union-attr]


def test_resume_by_id(config: Config) -> None:
    exp = MyExp(config, name='E')
    exp.create_run(run_id='a')
    exp.create_run(run_id='b')
    run = exp.create_run(run_id='a', resume=True)
    assert run.id == 'a'


def test_resume_without_id_takes_the_run_last_started_or_resumed(
    config: Config,
) -> None:
    exp = MyExp(config, name='E')
    with exp.create_run(run_id='a'):
        pass
    with exp.create_run(run_id='b'):
        pass
    with exp.create_run(run_id='a', resume=True):
        pass  # 'a' resumed last, though 'b' was created later
    with exp.create_run(resume=True) as run:
        assert run.id == 'a'


def test_resume_returns_run_of_this_experiment_only(
    config: Config, tmp_path: pathlib.Path
) -> None:
    a = MyExp(config, name='A')
    b = MyExp(config, name='B')
    with a.create_run(run_id='a-run'):
        pass
    with pytest.warns(exceptions.NoPreviousRunsWarning):
        run = b.create_run(resume=True)
    assert run.experiment is b
    assert run.id != 'a-run'


def test_resume_unknown_id_warns_and_creates(config: Config) -> None:
    exp = MyExp(config, name='E')
    with pytest.warns(exceptions.NotExistingRunWarning):
        run = exp.create_run(run_id='new', resume=True)
    assert run.id == 'new'
    assert statuses(exp) == {'new': 'created'}


def test_explicit_duplicate_id_raises(config: Config) -> None:
    exp = MyExp(config, name='E')
    exp.create_run(run_id='x')
    with pytest.raises(exceptions.RunAlreadyRecordedError):
        exp.create_run(run_id='x')


@pytest.mark.parametrize('bad', ['..', 'a/b', '../up', '', ' x'])
def test_invalid_run_id(config: Config, bad: str) -> None:
    exp = MyExp(config, name='E')
    with pytest.raises(exceptions.InvalidNameError):
        exp.create_run(run_id=bad or None or '')  # '' is invalid too
    assert not pathlib.Path('.drytorch').exists() or not any(
        pathlib.Path('.drytorch').rglob('*.json')
    )


@pytest.mark.parametrize('bad', ['..', '.', 'a/b', 'a\\b', 'x:y'])
def test_invalid_experiment_name(config: Config, bad: str) -> None:
    with pytest.raises(exceptions.InvalidNameError) as info:
        MyExp(config, name=bad)
    assert isinstance(info.value, ValueError)
    assert repr(bad) in str(info.value)


def test_same_name_twice_keeps_name(config: Config) -> None:
    assert MyExp(config, name='X').name == 'X'
    assert MyExp(config, name='X').name == 'X'
    assert MyExp(config).name == 'MyExp'


def test_nested_start_refused_without_side_effects(config: Config) -> None:
    a = MyExp(config, name='A')
    b = MyExp(config, name='B')
    with a.create_run():
        inner = b.create_run(run_id='b1')
        with pytest.raises(exceptions.NestedScopeError) as info:
            inner.start()
        message = str(info.value)
        assert message.index('B') < message.index('A')  # new, then active
        assert inner.status == 'created'
    assert statuses(b) == {'b1': 'created'}


def test_get_config(config: Config) -> None:
    exp = MyExp(config, name='E')
    with exp.create_run():
        assert MyExp.get_config() is config
        assert Experiment.get_config() is config
        with pytest.raises(exceptions.NoActiveExperimentError) as info:
            OtherExp.get_config()
        assert 'OtherExp' in str(info.value)
    with pytest.raises(exceptions.NoActiveExperimentError):
        MyExp.get_config()


def test_run_property(config: Config) -> None:
    exp = MyExp(config, name='E')
    with pytest.raises(exceptions.NoActiveExperimentError, match='E'):
        _ = exp.run
    with exp.create_run() as run:
        assert exp.run is run


def test_events_of_lifecycle(
    config: Config, recorder: RecordingTracker
) -> None:
    exp = MyExp(config, name='E', tags=['t'])
    exp.trackers.subscribe(recorder)
    with exp.create_run(run_id='r'):
        pass
    start, stop = recorder.events
    assert isinstance(start, events.StartRunEvent)
    assert start.exp_name == 'E'
    assert start.run_id == 'r'
    assert start.config is config
    assert start.tags == ['t']
    assert not start.resumed
    assert isinstance(stop, events.StopRunEvent)
    assert stop.status == 'completed'
    assert recorder.cleaned == 1


def test_events_outside_run_raise() -> None:
    with pytest.raises(exceptions.AccessOutsideScopeError):
        scope.publish(events.EndTrainingEvent(source_name='x'))


def test_unrecorded_run(config: Config) -> None:
    exp = MyExp(config, name='E')
    with exp.create_run(record=False) as run:
        assert run.is_active()
    assert not exp.registry.path.exists()


def test_frozen_config_is_kept(config: Config) -> None:
    exp = MyExp(config, name='E')
    assert exp.config is config
    with pytest.raises(dataclasses.FrozenInstanceError):
        exp.config.lr = 1.0  # type: ignore[misc]


def test_tags_must_be_strings(config: Config) -> None:
    with pytest.raises(TypeError, match='str'):
        MyExp(config, name='E', tags=[1])  # type: ignore[list-item]


def test_stopped_run_can_be_started_again(config: Config) -> None:
    exp = MyExp(config, name='E')
    run = exp.create_run(run_id='r')
    run.start()
    run.stop()
    run.start()
    assert run.resumed
    run.stop()
    assert statuses(exp) == {'r': 'completed'}
