from __future__ import annotations

import math
import pickle

import pytest

from drytorch.lib import schedulers
from drytorch.lib.schedulers import (
    AbstractScheduler,
    ConstantScheduler,
    CosineScheduler,
    ExponentialScheduler,
    PolynomialScheduler,
    RescaleScheduler,
    RestartScheduler,
    StepScheduler,
    WarmupScheduler,
    rescale,
    restart,
    warmup,
)

ALL_SCHEDULERS: list[AbstractScheduler] = [
    ConstantScheduler(),
    PolynomialScheduler(10, power=2.0, min_decay=0.1),
    ExponentialScheduler(0.9, min_decay=0.2),
    CosineScheduler(8, min_decay=0.05),
    StepScheduler((2, 5), gamma=0.5),
    RescaleScheduler(CosineScheduler(8), 0.3),
    RestartScheduler(CosineScheduler(4, 0.1), 4, 0.5, max_restart=2),
    WarmupScheduler(ExponentialScheduler(0.8), 3),
]


def values(scheduler, base_lr, epochs):
    return [scheduler(base_lr, epoch) for epoch in epochs]


def test_all_classes_are_covered_by_the_proportionality_cases():
    covered = {type(s) for s in ALL_SCHEDULERS}
    expected = {
        getattr(schedulers, name)
        for name in schedulers.__all__
        if isinstance(getattr(schedulers, name), type)
        and name
        not in {
            'AbstractScheduler',
            'BaseScheduler',
            'ComposedScheduler',
            'TransformScheduler',
        }
    }
    assert covered == expected


@pytest.mark.parametrize('scheduler', ALL_SCHEDULERS, ids=repr)
@pytest.mark.parametrize('k', [0.5, 3.0, 40.0])
def test_proportional_to_base_rate(scheduler, k):
    for epoch in range(25):
        expected = k * scheduler(0.1, epoch)
        assert scheduler(k * 0.1, epoch) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize('scheduler', ALL_SCHEDULERS, ids=repr)
def test_negative_inputs_rejected(scheduler):
    with pytest.raises(ValueError, match='non-negative base_lr'):
        scheduler(-0.1, 1)
    with pytest.raises(ValueError, match='non-negative epoch'):
        scheduler(0.1, -1)


@pytest.mark.parametrize('scheduler', ALL_SCHEDULERS, ids=repr)
def test_immutable_hashable_and_picklable(scheduler):
    with pytest.raises(AttributeError):
        scheduler.foo = 1
    assert hash(scheduler) == hash(pickle.loads(pickle.dumps(scheduler)))
    assert pickle.loads(pickle.dumps(scheduler)) == scheduler


def test_constant():
    assert values(ConstantScheduler(), 0.1, [0, 1, 100]) == [0.1, 0.1, 0.1]
    assert repr(ConstantScheduler()) == 'ConstantScheduler()'


def test_polynomial_multiplies_the_base_rate_d12():
    # the reference returned 1.0, 0.9, ... whatever the base rate
    scheduler = PolynomialScheduler(max_epochs=10)
    assert values(scheduler, 5.0, range(4)) == pytest.approx(
        [5.0, 4.5, 4.0, 3.5]
    )
    assert values(scheduler, 0.1, [0, 1, 2, 3, 10]) == pytest.approx(
        [0.1, 0.09, 0.08, 0.07, 0.0]
    )


def test_polynomial_power_and_min_decay():
    scheduler = PolynomialScheduler(max_epochs=4, power=2.0, min_decay=0.2)
    expected = [0.2 + (1 - e / 4) ** 2 * 0.8 for e in range(4)] + [0.2, 0.2]
    assert values(scheduler, 1.0, range(6)) == pytest.approx(expected)
    assert PolynomialScheduler().max_epochs == 1000


def test_exponential():
    scheduler = ExponentialScheduler(exp_decay=0.5, min_decay=0.2)
    # floor 0.2, (1 - 0.2) * 0.5**e + 0.2
    assert values(scheduler, 1.0, range(4)) == pytest.approx(
        [1.0, 0.6, 0.4, 0.3]
    )
    assert ExponentialScheduler()(1.0, 2) == pytest.approx(0.975**2)


def test_cosine():
    scheduler = CosineScheduler(decay_steps=4, min_decay=0.0)
    assert values(scheduler, 0.1, range(6)) == pytest.approx(
        [0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2, 0.05, 0.01464466, 0, 0]
    )
    default = CosineScheduler()
    assert default(1.0, 250) == pytest.approx(0.01)
    assert default(1.0, 125) == pytest.approx(0.01 + 0.99 / 2)


def test_step_accepts_tuple_milestones_d13():
    # the reference rejected any milestones that were not a list
    scheduler = StepScheduler((3, 6), gamma=0.5)
    assert scheduler.milestones == (3, 6)
    expected = [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert values(scheduler, 1.0, range(8)) == expected


@pytest.mark.parametrize('milestones', [[3, 6], (3, 6), range(3, 7, 3)])
def test_step_accepts_any_iterable(milestones):
    scheduler = StepScheduler(milestones, gamma=0.1)
    assert scheduler.milestones == (3, 6)
    assert scheduler == StepScheduler((3, 6), 0.1)


def test_step_iterator_is_consumed_once():
    scheduler = StepScheduler(iter([2]), 0.5)
    assert values(scheduler, 1.0, [1, 2, 3]) == [1.0, 0.5, 0.5]


def test_step_defaults():
    scheduler = StepScheduler()
    assert scheduler.milestones == (200,)
    assert scheduler(1.0, 199) == 1.0
    assert scheduler(1.0, 200) == pytest.approx(0.1)


def test_step_repr():
    assert (
        repr(StepScheduler([5])) == 'StepScheduler(milestones=(5,), gamma=0.1)'
    )


def test_rescale():
    scheduler = RescaleScheduler(CosineScheduler(4, 0.0), 0.5)
    assert values(scheduler, 0.1, [0, 2, 4]) == pytest.approx([0.05, 0.025, 0])
    assert CosineScheduler(4, 0.0).bind(rescale(0.5)) == scheduler


def test_restart_matches_measured_example():
    scheduler = CosineScheduler(4, 0.0).bind(restart(4, 0.5))
    rounded = [round(scheduler(0.1, e), 3) for e in range(9)]
    assert rounded == [0.1, 0.085, 0.05, 0.015, 0.0, 0.043, 0.025, 0.007, 0.0]


def test_restart_max_restart_then_wrapped_schedule_goes_on():
    base = ExponentialScheduler(0.5)
    scheduler = base.bind(restart(2, 1.0, max_restart=1))
    # one restart at epoch 2; from epoch 4 on, the wrapped schedule itself
    assert values(scheduler, 1.0, range(7)) == pytest.approx(
        [1.0, 0.5, 0.25, 0.5, 0.0625, 0.03125, 0.015625]
    )
    unlimited = base.bind(restart(2))
    assert values(unlimited, 1.0, range(7)) == pytest.approx(
        [1.0, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25]
    )


def test_restart_fraction_does_not_compound():
    """The example of the issue, as drytorch 0.1.0rc5 computes it."""
    scheduler = RestartScheduler(
        CosineScheduler(decay_steps=50, min_decay=0.01),
        restart_interval=50,
        restart_fraction=0.5,
        max_restart=3,
    )
    assert round(scheduler(1.0, 120), 3) == 0.329
    assert round(scheduler(1.0, 170), 3) == 0.329  # third restart: same
    assert scheduler(1.0, 200) == pytest.approx(0.01)
    assert scheduler(1.0, 100) == pytest.approx(0.01)  # end of a cycle


def test_warmup():
    scheduler = WarmupScheduler(ExponentialScheduler(0.5), 4)
    assert values(scheduler, 1.0, range(7)) == pytest.approx(
        [0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.25]
    )
    assert WarmupScheduler(ConstantScheduler(), 0)(1.0, 0) == 1.0
    assert ConstantScheduler().bind(warmup()).warmup_steps == 10


def test_warmup_repr():
    scheduler = CosineScheduler(4, 0.0).bind(warmup(3))
    assert repr(scheduler) == (
        'CosineScheduler(decay_steps=4, min_decay=0.0) with 3 warm-up steps'
    )


def test_bind_chains_wrappers():
    scheduler = CosineScheduler(4, 0.0).bind(warmup(2)).bind(rescale(2.0))
    assert isinstance(scheduler, RescaleScheduler)
    assert isinstance(scheduler.base_scheduler, WarmupScheduler)
    assert scheduler(0.1, 1) == pytest.approx(0.1)
    with pytest.raises(TypeError, match='Expected a schedule'):
        AbstractScheduler.bind(ConstantScheduler(), repr)


def test_wrappers_accept_plain_callables():
    def halve(base_lr: float, epoch: int) -> float:
        return base_lr / 2

    assert RescaleScheduler(halve, 3.0)(1.0, 5) == 1.5
    assert WarmupScheduler(halve, 2)(1.0, 3) == 0.5


@pytest.mark.parametrize(
    ('factory', 'error', 'match'),
    [
        (lambda: PolynomialScheduler(0), ValueError, 'max_epochs.*got 0'),
        (lambda: PolynomialScheduler(2.5), TypeError, 'max_epochs.*integer'),
        (lambda: PolynomialScheduler(power=-1), ValueError, 'power >= 0'),
        (lambda: PolynomialScheduler(min_decay=1.5), ValueError, r'\[0, 1\]'),
        (lambda: ExponentialScheduler(0.0), ValueError, r'exp_decay in \(0'),
        (lambda: ExponentialScheduler(1.1), ValueError, 'got 1.1'),
        (lambda: ExponentialScheduler(min_decay=-0.1), ValueError, 'min_'),
        (lambda: ExponentialScheduler('0.9'), TypeError, 'number'),
        (lambda: CosineScheduler(0), ValueError, 'decay_steps'),
        (lambda: CosineScheduler(min_decay=2), ValueError, 'min_decay'),
        (lambda: StepScheduler((6, 3)), ValueError, 'ascending.*got \\(6, 3'),
        (lambda: StepScheduler([0, 3]), ValueError, 'milestone.*got 0'),
        (lambda: StepScheduler([-2]), ValueError, 'positive integer'),
        (lambda: StepScheduler([1.5]), TypeError, 'integer, got 1.5'),
        (lambda: StepScheduler(5), TypeError, 'iterable'),
        (lambda: StepScheduler(gamma=0), ValueError, 'gamma'),
        (lambda: StepScheduler(gamma=2), ValueError, 'gamma'),
        (lambda: RescaleScheduler(ConstantScheduler(), 0), ValueError, 'fac'),
        (lambda: RescaleScheduler(3, 1.0), TypeError, 'base_scheduler'),
        (lambda: RestartScheduler(ConstantScheduler(), 0), ValueError, 'int'),
        (
            lambda: RestartScheduler(ConstantScheduler(), 2, 0.0),
            ValueError,
            'restart_fraction > 0, got 0.0',
        ),
        (
            lambda: RestartScheduler(ConstantScheduler(), 2, 1.0, 0),
            ValueError,
            'max_restart',
        ),
        (lambda: WarmupScheduler(ConstantScheduler(), -1), ValueError, 'war'),
        (lambda: WarmupScheduler(ConstantScheduler(), True), TypeError, 'in'),
        (lambda: rescale(-1.0), ValueError, 'factor > 0, got -1.0'),
        (lambda: restart(0), ValueError, 'restart_interval'),
        (lambda: restart(2, -0.5), ValueError, 'restart_fraction'),
        (lambda: restart(2, 1.0, -1), ValueError, 'max_restart'),
        (lambda: warmup(-3), ValueError, 'warmup_steps.*got -3'),
    ],
)
def test_invalid_parameters(factory, error, match):
    with pytest.raises(error, match=match) as info:
        factory()
    assert 'Expected' in str(info.value)


def test_abstract_scheduler_cannot_be_instantiated():
    with pytest.raises(TypeError):
        AbstractScheduler()  # type: ignore[abstract]
