from __future__ import annotations

import copy
import math
import operator
import pickle

import pytest
import torch
from host_sync_counter import count_host_syncs

from drytorch.core import exceptions
from drytorch.lib.objectives import (
    CompositionalLoss,
    Loss,
    LossBase,
    Metric,
    MetricCollection,
    MetricTracker,
    Objective,
    check_device,
    compute_metrics,
    dict_apply,
)
from drytorch.utils.average import get_trailing_mean

# module-level functions so that objectives can be pickled


def mse_fn(outputs, targets):
    return ((outputs - targets) ** 2).mean()


def mae_fn(outputs, targets):
    return (outputs - targets).abs().mean()


def per_sample_mae(outputs, targets):
    return (outputs - targets).abs().flatten(1).mean(1)


def per_sample_mse(outputs, targets):
    return ((outputs - targets) ** 2).flatten(1).mean(1)


def count_fn(outputs, targets):
    return torch.tensor(2)  # an integer criterion


OUT = torch.tensor([2.0, 2.0])
TGT = torch.zeros(2)  # MSE = 4, MAE = 2


@pytest.fixture
def mse():
    return Loss(mse_fn, 'MSE')


@pytest.fixture
def mae():
    return Loss(mae_fn, 'MAE')


def values_of(loss):
    loss.reset()
    loss.update(OUT, TGT)
    return compute_metrics(loss)


# arithmetic table


TABLE = [
    (lambda a, b: a, 'MSE', False, '[MSE]', 4.0),
    (
        lambda a, b: a**2 + 0.5 * b,
        'Combined Loss',
        False,
        '[MSE]^2 + 0.5 x [MAE]',
        17.0,
    ),
    (lambda a, b: a + 1, 'Combined Loss', False, '(1 + [MSE])', 5.0),
    (lambda a, b: 1 + a, 'Combined Loss', False, '(1 + [MSE])', 5.0),
    (lambda a, b: a - 2, 'Combined Loss', False, '(-2 + [MSE])', 2.0),
    (lambda a, b: 2 - a, 'Combined Loss', True, '(2 - [MSE])', -2.0),
    (lambda a, b: -a, 'Negative MSE', True, '(-[MSE])', -4.0),
    (lambda a, b: a / 2, 'Combined Loss', False, '(0.5 x [MSE])', 2.0),
    (lambda a, b: 1 / a, 'Loss', True, '(1 / [MSE])', 0.25),
    (lambda a, b: a**-1, 'Loss', True, '(1 / [MSE])', 0.25),
    (lambda a, b: a**0.5, 'Loss', False, '([MSE]^0.5)', 2.0),
    (lambda a, b: a**-2, 'Loss', True, '(1 / [MSE]^2)', 1 / 16),
    (lambda a, b: a * b, 'Combined Loss', False, '[MSE] x [MAE]', 8.0),
]


@pytest.mark.parametrize(
    ('build', 'name', 'higher_is_better', 'formula', 'value'), TABLE
)
def test_arithmetic_table(
    mse, mae, build, name, higher_is_better, formula, value
):
    loss = build(mse, mae)
    assert isinstance(loss, LossBase)
    assert loss.name == name
    assert loss.higher_is_better is higher_is_better
    assert loss.formula == formula
    assert repr(loss) == f'{type(loss).__name__}({formula})'
    assert values_of(loss)[name] == pytest.approx(value)


def test_arithmetic_results_are_compositional_and_report_combined_first(
    mse, mae
):
    loss = mse**2 + 0.5 * mae
    assert isinstance(loss, CompositionalLoss)
    loss.update(OUT, TGT)
    computed = loss.compute()
    assert list(computed) == ['Combined Loss', 'MSE', 'MAE']
    assert computed == {'Combined Loss': 17.0, 'MSE': 4.0, 'MAE': 2.0}


def test_loss_repr(mse):
    assert repr(mse) == 'Loss([MSE])'
    assert mse.formula == '[MSE]'
    assert mse.criterion({'MSE': 3}) == 3


@pytest.mark.parametrize(
    'build',
    [
        lambda a: a + 0,
        lambda a: 0 + a,
        lambda a: a - 0,
        lambda a: a * 1,
        lambda a: 1 * a,
        lambda a: a / 1,
        lambda a: a**1,
    ],
)
def test_neutral_operations_return_the_same_loss(mse, mae, build):
    combined = mse + mae
    assert build(combined) is combined
    assert build(mse) is mse


def test_sum_of_losses_with_builtin_sum(mse, mae):
    total = sum([mse, mae])
    assert values_of(total)['Combined Loss'] == pytest.approx(6.0)


# losses can be subtracted and divided; formulas keep the precedence


def test_subtracting_and_dividing_losses_work(mse, mae):
    difference = mse - mae
    ratio = mse / mae
    assert difference.higher_is_better is False
    assert ratio.higher_is_better is False
    assert difference.formula == '[MSE] - [MAE]'
    assert ratio.formula == '[MSE] / [MAE]'
    assert values_of(difference)['Combined Loss'] == pytest.approx(2.0)
    assert values_of(ratio)['Combined Loss'] == pytest.approx(2.0)


def test_difference_keeps_direction_of_left_operand(mse):
    accuracy = Loss(mae_fn, 'ACC', higher_is_better=True)
    assert (accuracy - mse).higher_is_better is True
    assert (mse - accuracy).higher_is_better is False
    assert (accuracy / mse).higher_is_better is True


def test_formula_precedence_matches_value(mse, mae):
    doubled = (mse + mae) * 2
    assert doubled.formula == '(2 x ([MSE] + [MAE]))'
    assert values_of(doubled)['Combined Loss'] == pytest.approx(12.0)

    nested = mse - (mae - mse)  # 4 - (2 - 4)
    assert nested.formula == '([MSE] - ([MAE] - [MSE]))'
    assert values_of(nested)['Combined Loss'] == pytest.approx(6.0)

    quotient = mse / (mae * mae)  # 4 / (2 * 2)
    assert quotient.formula == '([MSE] / ([MAE] x [MAE]))'
    assert values_of(quotient)['Combined Loss'] == pytest.approx(1.0)

    squared = (mse + mae) ** 2  # (4 + 2) ** 2
    assert squared.formula == '(([MSE] + [MAE])^2)'
    assert values_of(squared)['Loss'] == pytest.approx(36.0)

    negated = -(mse - mae)  # -(4 - 2)
    assert negated.formula == '(-([MSE] - [MAE]))'
    assert values_of(negated)['Negative Combined Loss'] == pytest.approx(-2)

    shifted = 10 - (mse + mae)  # 10 - (4 + 2)
    assert shifted.formula == '(10 - ([MSE] + [MAE]))'
    assert values_of(shifted)['Combined Loss'] == pytest.approx(4.0)


@pytest.mark.parametrize(
    ('op', 'verb'), [(operator.add, 'add'), (operator.mul, 'multiply')]
)
def test_opposite_directions_cannot_be_added_or_multiplied(mse, op, verb):
    accuracy = Loss(mae_fn, 'ACC', higher_is_better=True)
    with pytest.raises(ValueError, match=f'Cannot {verb}') as info:
        op(mse, accuracy)
    message = str(info.value)
    assert 'lower is better' in message
    assert 'higher is better' in message


@pytest.mark.parametrize(
    'build',
    [
        lambda a: a + 'x',
        lambda a: 'x' - a,
        lambda a: a * [1],
        lambda a: a ** 'x',
    ],
)
def test_non_numbers_raise_type_error(mse, build):
    with pytest.raises(TypeError):
        build(mse)


def test_non_float_criterion_is_cast_before_power():
    counts = Loss(count_fn, 'Count')
    assert values_of(counts**-1)['Loss'] == pytest.approx(0.5)
    assert values_of(counts**-2)['Loss'] == pytest.approx(0.25)


def test_criterion_is_applied_per_sample_before_averaging():
    loss = Loss(per_sample_mae, 'MAE') ** 2
    loss.update(torch.tensor([[1.0], [3.0]]), torch.zeros(2, 1))
    computed = compute_metrics(loss)
    assert computed['MAE'] == pytest.approx(2.0)
    assert computed['Loss'] == pytest.approx((1 + 9) / 2)


# combining with |


def test_metric_or_metric_gives_collection():
    collection = Metric(mse_fn, 'MSE') | Metric(mae_fn, 'MAE')
    assert type(collection) is MetricCollection
    collection.update(OUT, TGT)
    assert compute_metrics(collection) == {'MSE': 4.0, 'MAE': 2.0}


def test_loss_or_metric_logs_extra_metric(mse):
    loss = mse | Metric(mae_fn, 'MAE')
    assert isinstance(loss, CompositionalLoss)
    assert (loss.name, loss.formula, loss.higher_is_better) == (
        'MSE',
        '[MSE]',
        False,
    )
    assert loss.forward(OUT, TGT).item() == pytest.approx(4.0)
    assert compute_metrics(loss) == {'MSE': 4.0, 'MAE': 2.0}


def test_metric_or_loss_gives_loss_with_extra_metric(mse):
    loss = Metric(mae_fn, 'MAE') | mse
    assert isinstance(loss, CompositionalLoss)
    assert loss.name == 'MSE'
    assert loss.forward(OUT, TGT).item() == pytest.approx(4.0)
    assert set(compute_metrics(loss)) == {'MSE', 'MAE'}


def test_combined_loss_keeps_precedence_after_or(mse, mae):
    loss = ((mse + mae) | Metric(mae_fn, 'MAE')) * 2
    assert loss.formula == '(2 x ([MSE] + [MAE]))'


def test_two_functions_with_one_name_are_refused():
    with pytest.raises(ValueError, match="named 'MSE'"):
        Metric(mse_fn, 'MSE') | Metric(mae_fn, 'MSE')
    with pytest.raises(ValueError, match="named 'MSE'"):
        Loss(mse_fn, 'MSE') + Loss(mae_fn, 'MSE')


def test_or_with_other_types_raises(mse):
    with pytest.raises(TypeError):
        mse | 1
    with pytest.raises(TypeError):
        Metric(mse_fn, 'MSE') | 1


# averaging


def test_per_sample_values_give_exact_per_sample_mean():
    metric = Metric(per_sample_mae, 'MAE')
    metric.update(torch.tensor([[2.0], [2.0]]), torch.zeros(2, 1))
    metric.update(torch.tensor([[0.0]]), torch.zeros(1, 1))
    assert compute_metrics(metric)['MAE'] == pytest.approx(4 / 3)


def test_scalar_values_give_mean_of_batch_means():
    metric = Metric(mse_fn, 'MSE')
    metric.update(torch.tensor([[2.0], [2.0]]), torch.zeros(2, 1))
    metric.update(torch.tensor([[0.0]]), torch.zeros(1, 1))
    assert compute_metrics(metric)['MSE'] == pytest.approx(2.0)


def test_update_returns_batch_tensors_and_forward_returns_scalar(mse):
    values = mse.update(OUT, TGT)
    assert isinstance(values['MSE'], torch.Tensor)
    loss = Loss(per_sample_mse, 'MSE')
    result = loss.forward(torch.tensor([[1.0], [3.0]]), torch.zeros(2, 1))
    assert result.shape == ()
    assert result.item() == pytest.approx(5.0)


def test_forward_keeps_the_graph():
    weight = torch.tensor(3.0, requires_grad=True)
    loss = Loss(mse_fn, 'MSE') + Loss(mae_fn, 'MAE')
    value = loss.forward(weight * torch.ones(2), torch.zeros(2))
    value.backward()
    assert weight.grad.item() == pytest.approx(2 * 3 + 1)


class NewKeyObjective(Objective):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def calculate(self, outputs, targets):
        self.calls += 1
        return {f'key{self.calls}': outputs.sum()}


def test_keys_must_be_stable():
    objective = NewKeyObjective()
    objective.update(OUT, TGT)
    with pytest.raises(KeyError, match='key2'):
        objective.update(OUT, TGT)


def test_compute_before_update_warns_and_returns_empty(mse):
    with pytest.warns(exceptions.ComputedBeforeUpdatedWarning, match='MSE'):
        assert mse.compute() == {}
    with pytest.warns(exceptions.ComputedBeforeUpdatedWarning):
        assert compute_metrics(mse) == {}


def test_reset_forgets_state(mse):
    mse.update(OUT, TGT)
    mse.reset()
    with pytest.warns(exceptions.ComputedBeforeUpdatedWarning):
        mse.compute()


def test_copy_is_independent_and_merge_adds_state(mse):
    mse.update(OUT, TGT)
    other = mse.copy()
    assert other is not mse
    other.update(TGT, TGT)  # MSE 0
    assert compute_metrics(mse) == {'MSE': 4.0}
    assert compute_metrics(other) == {'MSE': 2.0}
    mse.merge_state(other)  # 4 + (4 + 0)
    assert compute_metrics(mse) == pytest.approx({'MSE': 8 / 3})
    with pytest.raises(TypeError, match='Expected an Objective'):
        mse.merge_state(object())


def test_sync_without_distributed_keeps_values(mse):
    mse.update(OUT, TGT)
    mse.sync()
    assert compute_metrics(mse) == {'MSE': 4.0}


def test_objectives_deepcopy_and_pickle(mse, mae):
    loss = (mse**2 + 0.5 * mae - 1) / 2 | Metric(mae_fn, 'Other')
    loss.update(OUT, TGT)
    for clone in (copy.deepcopy(loss), pickle.loads(pickle.dumps(loss))):
        assert clone.formula == loss.formula
        assert compute_metrics(clone) == compute_metrics(loss)
        clone.update(OUT, TGT)
        assert clone.forward(OUT, TGT).item() == pytest.approx(8.0)
    with torch.inference_mode():
        loss.update(OUT, TGT)
    assert copy.deepcopy(loss).compute().keys() == loss.compute().keys()


def test_metric_attributes():
    metric = Metric(mse_fn, 'PSNR', True)
    assert metric.fun is mse_fn
    assert metric.name == 'PSNR'
    assert metric.higher_is_better is True
    assert metric.named_fn == {'PSNR': mse_fn}
    assert Metric(mse_fn, 'X').higher_is_better is None


def test_metric_collection_rejects_non_callables():
    with pytest.raises(TypeError, match='Expected a callable'):
        MetricCollection(a=1)


def test_compositional_loss_constructed_directly():
    loss = CompositionalLoss(
        lambda values: values['A'] - values['B'],
        higher_is_better=False,
        formula='[A] + -[B]',
        A=mse_fn,
        B=mae_fn,
    )
    assert loss.name == 'Loss'
    assert loss.formula == '[A] - [B]'
    assert loss.forward(OUT, TGT).item() == pytest.approx(2.0)
    assert (loss * 2).formula == '(2 x ([A] - [B]))'
    bracketed = CompositionalLoss(
        lambda values: values['A'], higher_is_better=False, formula='(x)'
    )
    assert (bracketed * 2).formula == '(2 x (x))'


def test_combined_value_wins_over_metric_with_same_name():
    loss = CompositionalLoss(
        lambda values: values['Loss'] * 10,
        higher_is_better=False,
        Loss=mse_fn,
    )
    loss.update(OUT, TGT)
    assert compute_metrics(loss) == {'Loss': 40.0}


class UserLoss(LossBase):
    """A LossBase subclass written by a user: only calculate is needed."""

    def calculate(self, outputs, targets):
        values = dict_apply(self.named_fn, outputs, targets)
        return {'Total': self.criterion(values), **values}


def test_user_subclass_of_loss_base():
    loss = UserLoss(
        lambda v: v['MSE'] + v['MAE'], 'Total', MSE=mse_fn, MAE=mae_fn
    )
    assert repr(loss) == 'UserLoss([Total])'
    assert loss.forward(OUT, TGT).item() == pytest.approx(6.0)
    assert compute_metrics(loss) == {'Total': 6.0, 'MSE': 4.0, 'MAE': 2.0}


def test_dict_apply():
    assert dict_apply({'a': operator.add, 'b': operator.sub}, 3, 1) == {
        'a': 4,
        'b': 2,
    }


# compute_metrics and check_device


class TensorObjective:
    def compute(self):
        return torch.tensor(3.0)


class WrongObjective:
    def compute(self):
        return [1.0]


def test_compute_metrics_of_bare_tensor_and_wrong_type():
    assert compute_metrics(TensorObjective()) == {'TensorObjective': 3.0}
    with pytest.raises(exceptions.ComputedMetricsTypeError, match='list'):
        compute_metrics(WrongObjective())


class MixedObjective:
    def compute(self):
        return {
            'int': torch.tensor(3),
            'double': torch.tensor(0.1, dtype=torch.float64),
            'one': torch.tensor([2.0]),
            'python': 1.5,
        }


def test_compute_metrics_mixed_values_keep_order_and_precision():
    computed = compute_metrics(MixedObjective())
    assert list(computed) == ['int', 'double', 'one', 'python']
    assert computed == {'int': 3.0, 'double': 0.1, 'one': 2.0, 'python': 1.5}
    assert all(type(value) is float for value in computed.values())


class VectorObjective:
    def compute(self):
        return {'v': torch.ones(3)}


def test_compute_metrics_rejects_non_scalars():
    with pytest.raises(ValueError, match="'v' to be a scalar"):
        compute_metrics(VectorObjective())


class DeviceObjective:
    name = 'Remote'
    device = torch.device('meta')


def test_check_device():
    check_device(DeviceObjective(), 'meta')
    check_device(Loss(mse_fn, 'MSE'), torch.device('cpu'))
    with pytest.raises(exceptions.DeviceMismatchError, match='Remote'):
        check_device(DeviceObjective(), torch.device('cpu'))
    module_metric = torch.nn.Linear(1, 1, device='meta')
    with pytest.raises(exceptions.DeviceMismatchError):
        check_device(Metric(module_metric, 'Lin'), 'cpu')


# host synchronisations: none per batch, one transfer per compute


def test_forward_makes_no_host_sync_and_compute_metrics_one_transfer():
    loss = Loss(per_sample_mse, 'MSE') ** 2 + 0.5 * Loss(per_sample_mae, 'MAE')
    outputs = torch.rand(16, 4)
    targets = torch.rand(16, 4)
    with count_host_syncs() as counts:
        for _ in range(100):
            loss.forward(outputs, targets)
        per_batch = dict(counts)
        counts.update(dict.fromkeys(counts, 0))
        computed = compute_metrics(loss)
        at_compute = dict(counts)
    assert sum(per_batch.values()) == 0, per_batch
    assert sum(at_compute.values()) <= 1, at_compute
    assert set(computed) == {'Combined Loss', 'MSE', 'MAE'}
    # the counting wrappers are gone
    assert 'item' not in torch.Tensor.__dict__


def test_update_of_metric_collection_makes_no_host_sync():
    metrics = Metric(mse_fn, 'MSE') | Metric(per_sample_mae, 'MAE')
    outputs = torch.rand(8, 2)
    targets = torch.rand(8, 2)
    with count_host_syncs() as counts:
        for _ in range(20):
            metrics.update(outputs, targets)
        metrics.compute()
    assert sum(counts.values()) == 0, counts


# MetricTracker


def test_tracker_rejects_bad_arguments():
    with pytest.raises(ValueError, match='patience'):
        MetricTracker(patience=-1)
    with pytest.raises(ValueError, match='min_delta'):
        MetricTracker(min_delta=-1.0)
    with pytest.raises(ValueError, match='best_is'):
        MetricTracker(best_is='largest')


def test_best_value_needs_a_value():
    tracker = MetricTracker()
    with pytest.raises(exceptions.ResultNotAvailableError):
        _ = tracker.best_value
    tracker.add_value(3.0)
    assert tracker.best_value == 3.0
    assert tracker.filtered_value == 3.0


def test_patience_counts_non_improving_values():
    tracker = MetricTracker(best_is='lower', patience=1)
    assert tracker.is_improving()  # no value yet
    tracker.add_value(1.0)
    assert tracker.is_improving()
    tracker.add_value(2.0)
    assert not tracker.is_improving()
    assert tracker.is_patient()  # one non-improving value tolerated
    tracker.add_value(0.5)
    assert tracker.is_improving()
    assert tracker.best_value == 0.5
    tracker.add_value(0.6)
    assert not tracker.is_improving()
    assert tracker.is_patient()
    tracker.add_value(0.7)
    assert not tracker.is_improving()
    assert not tracker.is_patient()
    tracker.reset_patience()
    assert tracker.is_patient()


def test_zero_patience_stops_at_first_non_improvement():
    tracker = MetricTracker(best_is='higher', patience=0)
    tracker.add_value(1.0)
    tracker.add_value(1.0)
    assert not tracker.is_improving()
    assert not tracker.is_patient()


def test_min_delta_margin():
    tracker = MetricTracker(best_is='lower', min_delta=0.1)
    assert not tracker.is_better(0.95, 1.0)
    assert tracker.is_better(0.85, 1.0)
    higher = MetricTracker(best_is='higher', min_delta=0.1)
    assert not higher.is_better(1.05, 1.0)
    assert higher.is_better(1.15, 1.0)


def test_nan_is_never_better():
    tracker = MetricTracker(best_is='lower')
    assert not tracker.is_better(math.nan, 1.0)
    assert not tracker.is_better(math.nan, math.nan)
    assert tracker.is_better(5.0, math.nan)
    tracker.add_value(1.0)
    tracker.add_value(math.nan)
    assert not tracker.is_improving()
    assert tracker.best_value == 1.0


def test_equal_first_values_do_not_fix_the_direction():
    tracker = MetricTracker()
    tracker.add_value(2.44)
    tracker.add_value(2.44)
    assert tracker.best_is == 'auto'
    assert not tracker.is_better(3.0, 2.44)  # no direction guessed yet
    tracker.add_value(2.0)
    assert tracker.best_is == 'lower'
    assert tracker.is_improving()
    assert tracker.best_value == 2.0


def test_auto_direction_is_decided_by_first_different_value():
    tracker = MetricTracker()
    for value in (math.nan, 1.0, 1.0, 3.0, 0.0):
        tracker.add_value(value)
    assert tracker.best_is == 'higher'


def test_known_direction_is_preferred():
    tracker = MetricTracker(best_is='lower')
    assert tracker.is_better(0.0, 2.44)
    tracker.add_value(1.0)
    tracker.add_value(2.0)  # would make 'auto' choose 'higher'
    assert tracker.best_is == 'lower'
    assert not tracker.is_improving()
    tracker.best_is = 'auto'
    assert tracker.best_is == 'higher'
    tracker.best_is = 'lower'
    assert tracker.best_is == 'lower'


def test_filter_function_is_applied_to_history():
    tracker = MetricTracker(best_is='lower', filter_fn=get_trailing_mean(2))
    for value in (4.0, 2.0, 3.0):
        tracker.add_value(value)
    assert tracker.filtered_value == pytest.approx(2.5)
    assert tracker.is_improving()
    assert tracker.best_value == pytest.approx(2.5)


def test_tracker_deepcopy_and_pickle():
    tracker = MetricTracker('MSE', patience=2)
    tracker.add_value(1.0)
    for clone in (copy.deepcopy(tracker), pickle.loads(pickle.dumps(tracker))):
        assert clone.history == [1.0]
        assert clone.metric_name == 'MSE'
