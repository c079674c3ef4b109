"""Renamed core names: every former name gives the very same object.

Code written against 0.1.0rc5 or 0.1.0rc11 keeps working: an ``except``
clause, an ``isinstance`` check or a monkeypatched registry behaves the
same whichever name it uses.
"""

from __future__ import annotations

import importlib
import pickle

import pytest

from drytorch.core import exceptions
from drytorch.utils import errors

MODULE_ALIASES = {
    # current module: former path
    'drytorch.core.registering': 'drytorch.core.register',
    'drytorch.core.run_registry': 'drytorch.core.registry',
    'drytorch.core.experiment_data': 'drytorch.utils.local_ops',
}


@pytest.mark.parametrize(('current', 'former'), MODULE_ALIASES.items())
def test_former_module_paths_give_the_same_objects(
    current: str, former: str
) -> None:
    new = importlib.import_module(current)
    old = importlib.import_module(former)
    assert sorted(old.__all__) == sorted(new.__all__)
    for name in new.__all__:
        assert getattr(old, name) is getattr(new, name), name


def test_registries_of_models_are_shared() -> None:
    from drytorch.core import register, registering

    assert register.ALL_MODULES is registering.ALL_MODULES
    assert register.ALL_ACTORS is registering.ALL_ACTORS


def test_run_registry_keeps_the_time_format() -> None:
    from drytorch.core import registry, run_registry

    assert registry.TS_FMT == run_registry.TS_FMT == '%Y-%m-%d@%Hh%Mm%Ss'


def test_no_active_run_error_keeps_its_former_name() -> None:
    assert exceptions.NoActiveExperimentError is exceptions.NoActiveRunError
    with pytest.raises(exceptions.NoActiveExperimentError, match='E'):
        raise exceptions.NoActiveRunError('E')
    assert isinstance(exceptions.NoActiveRunError(), RuntimeError)


@pytest.mark.parametrize('name', errors.__all__)
def test_errors_of_utils_are_the_public_classes(name: str) -> None:
    cls = getattr(errors, name)
    assert getattr(exceptions, name) is cls
    assert cls.__module__ == 'drytorch.core.exceptions'
    assert issubclass(
        cls, (exceptions.DryTorchError, exceptions.DryTorchWarning)
    )


@pytest.mark.parametrize('name', exceptions.__all__)
def test_every_error_is_named_by_its_public_path(name: str) -> None:
    # tracebacks and pickles name the path users import, wherever the class
    # is defined
    cls = getattr(exceptions, name)
    assert cls.__module__ == 'drytorch.core.exceptions'
    assert cls.__name__ in (name, 'NoActiveRunError')


def test_an_error_raised_by_utils_is_caught_by_the_public_name() -> None:
    from drytorch.utils import files

    with pytest.raises(exceptions.InvalidNameError) as caught:
        files.safe_join('.', '..')
    assert isinstance(caught.value, exceptions.DryTorchError)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is exceptions.InvalidNameError
