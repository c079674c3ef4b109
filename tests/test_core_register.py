"""Registration of models and actors with runs."""

from __future__ import annotations

import gc

import pytest
import torch
from conftest import Config, RecordingTracker
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core import events, exceptions, registering
from drytorch.core.experiment import Experiment
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.runners import ModelRunner


def loader() -> DataLoader:
    data = TensorDataset(torch.ones(4, 1), torch.ones(4, 1))
    return DataLoader(data, batch_size=2)


def test_model_outside_run_raises() -> None:
    with pytest.raises(exceptions.NoActiveExperimentError):
        Model(nn.Linear(1, 1))


def test_module_registered_once(config: Config) -> None:
    module = nn.Linear(1, 1)
    first = Experiment(config, name='A')
    second = Experiment(config, name='B')
    with first.create_run(run_id='r1'):
        model = Model(module)
    with second.create_run():
        with pytest.raises(exceptions.ModuleAlreadyRegisteredError) as info:
            Model(module)
        assert 'A' in str(info.value)
        assert 'r1' in str(info.value)
        registering.unregister_model(model)
        assert Model(module).name == 'Linear'


def test_actor_needs_model_of_current_run(config: Config) -> None:
    exp = Experiment(config, name='E')
    with exp.create_run(run_id='r1'):
        model = Model(nn.Linear(1, 1))
    with exp.create_run(run_id='r1', resume=True):
        ModelRunner(model, loader=loader())()  # resumed: same run
    with exp.create_run(run_id='r2'):
        runner = ModelRunner(model, loader=loader())
        with pytest.raises(exceptions.ModuleNotRegisteredError) as info:
            runner()
        assert 'r2' in str(info.value)


def test_actor_documented_once_per_run(
    config: Config, recorder: RecordingTracker
) -> None:
    exp = Experiment(config, name='E')
    exp.trackers.subscribe(recorder)
    with exp.create_run(run_id='r'):
        model = Model(nn.Linear(1, 1))
        runner = ModelRunner(model, loader=loader())
        runner()
        runner()
    with exp.create_run(run_id='r', resume=True):
        runner()
    registrations = recorder.of_type(events.ActorRegistrationEvent)
    assert len(registrations) == 2
    assert registrations[0].actor_name == 'ModelRunner'
    assert registrations[0].model_name == 'Linear'


def test_actors_are_tracked_by_reference_not_by_id(
    config: Config, recorder: RecordingTracker
) -> None:
    """A new actor is documented even if it reuses a freed actor's id().

    Python gives a new object the id() of a freed one, so a registry keyed
    by id() would take the new actor for the old, already documented, one.
    Actors are held by weak references instead: once an actor is freed,
    nothing of it is left to be mistaken for the next one.
    """
    exp = Experiment(config, name='E')
    exp.trackers.subscribe(recorder)
    with exp.create_run():
        model = Model(nn.Linear(1, 1))
        actors = registering.ALL_ACTORS[model.module]
        for _ in range(5):
            runner = ModelRunner(model, loader=loader())
            runner()
            assert list(actors) == [runner]
            del runner
            gc.collect()
            assert list(actors) == []  # freed: nothing of it is kept
    registrations = recorder.of_type(events.ActorRegistrationEvent)
    assert len(registrations) == 5


def test_default_model_names_unique_in_run(config: Config) -> None:
    with Experiment(config, name='E').create_run():
        first = Model(nn.Linear(1, 1))
        second = Model(nn.Linear(1, 1))
        assert (first.name, second.name) == ('Linear', 'Linear_2')


def test_model_with_taken_name_takes_it_over(
    config: Config, recorder: RecordingTracker
) -> None:
    """A cell run again: the new model has the name, the old is released."""
    exp = Experiment(config, name='E')
    exp.trackers.subscribe(recorder)
    with exp.create_run() as run:
        old_module = nn.Linear(1, 1)
        old = Model(old_module, name='net')
        old_runner = ModelRunner(old, loader=loader())
        old_runner()
        new = Model(nn.Linear(1, 1), name='net')
        assert new.name == 'net'
        assert registering.registered_model(new.module) is new
        assert registering.registered_model(old_module) is None
        assert run.metadata_manager.holder('net') is new
        assert run.metadata_manager.holder('net/ModelRunner') is None
        with pytest.raises(exceptions.ModuleNotRegisteredError):
            old_runner()
        ModelRunner(new, loader=loader())()
        Model(old_module, name='other')  # the old module is free again
    models = recorder.of_type(events.ModelRegistrationEvent)
    assert [event.model_name for event in models] == ['net', 'net', 'other']
    assert models[1].model_ts == new.created_at
    actors = recorder.of_type(events.ActorRegistrationEvent)
    assert [event.model_name for event in actors] == ['net', 'net']


def test_model_of_same_module_takes_over_in_run(config: Config) -> None:
    """Re-running ``Model(net)`` with ``net`` from an earlier cell."""
    module = nn.Linear(1, 1)
    with Experiment(config, name='E').create_run():
        old = Model(module, name='net')
        new = Model(module, name='net')
        assert registering.registered_model(module) is new
        assert Model(module).name == 'net'  # default name: the model's
        renamed = Model(module, name='renamed')
        assert registering.registered_model(module) is renamed
        assert old.name == 'net'


def test_actor_with_taken_name_takes_it_over(
    config: Config, recorder: RecordingTracker
) -> None:
    exp = Experiment(config, name='E')
    exp.trackers.subscribe(recorder)
    with exp.create_run() as run:
        model = Model(nn.Linear(1, 1), name='net')
        old = ModelRunner(model, name='runner', loader=loader())
        old()
        new = ModelRunner(model, name='runner', loader=loader())
        new()
        assert run.metadata_manager.holder('net/runner') is new
        old()  # still acts, undocumented: the newer keeps the name
        new()
        assert run.metadata_manager.holder('net/runner') is new
    actors = recorder.of_type(events.ActorRegistrationEvent)
    assert [event.actor_ts for event in actors] == [
        old.created_at,
        new.created_at,
    ]


def test_explicit_name_kept_after_resume(config: Config) -> None:
    """A name the user gave is kept as given, with no counter suffix.

    The model of a resumed run finds its files under the same name.
    """
    exp = Experiment(config, name='E')
    with exp.create_run(run_id='r'):
        Model(nn.Linear(1, 1), name='net')
    with exp.create_run(run_id='r', resume=True):
        assert Model(nn.Linear(1, 1), name='net').name == 'net'


@pytest.mark.parametrize('bad', ['..', 'a/b', '.', 'x\\y'])
def test_invalid_model_and_actor_names(config: Config, bad: str) -> None:
    with Experiment(config, name='E').create_run():
        with pytest.raises(exceptions.InvalidNameError):
            Model(nn.Linear(1, 1), name=bad)
        model = Model(nn.Linear(1, 1))
        with pytest.raises(exceptions.InvalidNameError):
            ModelRunner(model, name=bad, loader=loader())


def test_model_registration_event(
    config: Config, recorder: RecordingTracker
) -> None:
    exp = Experiment(config, name='E')
    exp.trackers.subscribe(recorder)
    with exp.create_run():
        model = Model(nn.Linear(2, 3), name='lin')
    (event,) = recorder.of_type(events.ModelRegistrationEvent)
    assert event.model_name == 'lin'
    assert event.model_ts == model.created_at
    assert 'Linear(in_features=2, out_features=3' in event.architecture_repr


def test_model_requires_module(config: Config) -> None:
    with Experiment(config, name='E').create_run():
        with pytest.raises(TypeError, match=r'nn\.Module'):
            Model(object())  # type: ignore[arg-type]
