"""Errors and warnings: messages, builtin bases, pickling."""

from __future__ import annotations

import pickle

import pytest

from drytorch.core import exceptions


def instances() -> list[exceptions.DryTorchError | exceptions.DryTorchWarning]:
    made = []
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        if cls in (exceptions.DryTorchError, exceptions.DryTorchWarning):
            continue
        if cls is exceptions.TrackerError:
            made.append(cls('tracker', 'went wrong'))
        elif cls is exceptions.TrackerExceptionWarning:
            made.append(cls('csv', OSError('disk full')))
        else:
            made.append(cls(*[f'arg{i}' for i in range(len(cls.fields))]))
    return made


@pytest.mark.parametrize('error', instances(), ids=lambda e: type(e).__name__)
def test_pickle_round_trip(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)


@pytest.mark.parametrize('error', instances(), ids=lambda e: type(e).__name__)
def test_arguments_are_in_the_message(error: Exception) -> None:
    if isinstance(error, exceptions.NoActiveExperimentError):
        return  # names the experiment, or else its class: tested elsewhere
    for field in type(error).fields:  # type: ignore[attr-defined]
        value = getattr(error, field)
        if isinstance(value, str) and value.startswith('arg'):
            assert value in str(error), field


def test_missing_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match='run_id'):
        exceptions.RunNotRecordedError()


def test_expected_and_received_in_messages() -> None:
    error = exceptions.LossNotScalarError((3,))
    assert 'Expected a scalar loss' in str(error)
    assert '(3,)' in str(error)
    nested = exceptions.NestedScopeError('Active', 'New')
    assert str(nested).index('New') < str(nested).index('Active')
