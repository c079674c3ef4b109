from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from host_sync_counter import count_host_syncs
from ports import free_port

from drytorch.utils.average import (
    Averager,
    TorchAverager,
    get_moving_average,
    get_trailing_mean,
)

# Averager (floats)


def test_averager_mean_of_values():
    avg = Averager(a=1.0, b=10.0)
    avg += {'a': 3.0, 'b': 20.0}
    assert avg.counts == {'a': 2, 'b': 2}
    assert avg.aggregate == {'a': 4.0, 'b': 30.0}
    assert avg.reduce() == {'a': 2.0, 'b': 15.0}


def test_averager_add_returns_new_object_and_keeps_operands():
    first = Averager(a=1.0)
    second = Averager(a=3.0)
    total = first + second
    assert total.reduce() == {'a': 2.0}
    assert first.reduce() == {'a': 1.0}
    assert second.reduce() == {'a': 3.0}
    assert (first + {'a': 5.0}).reduce() == {'a': 3.0}


def test_averager_truthiness_equality_and_clear():
    avg = Averager()
    assert not avg
    avg += {'a': 1.0}
    assert avg
    assert avg == Averager(a=1.0)
    assert avg != Averager(a=2.0)
    assert list(avg.keys()) == ['a']
    avg.clear()
    assert not avg
    assert avg.reduce() == {}


def test_new_key_after_first_update_raises_clear_key_error():
    avg = Averager(a=1.0)
    with pytest.raises(KeyError) as info:
        avg += {'a': 1.0, 'b': 2.0}
    message = str(info.value)
    assert "['a']" in message
    assert "['a', 'b']" in message
    assert "['b']" in message
    # the refused update changed nothing
    assert avg.counts == {'a': 1}


def test_new_key_from_merged_averager_raises():
    avg = TorchAverager(a=torch.tensor(1.0))
    with pytest.raises(KeyError, match='appeared after the first update'):
        avg += TorchAverager(b=torch.tensor(1.0))


def test_update_may_omit_known_keys():
    avg = Averager(a=1.0, b=1.0)
    avg += {'a': 3.0}
    assert avg.reduce() == {'a': 2.0, 'b': 1.0}


def test_keys_are_fixed_again_after_clear():
    avg = Averager(a=1.0)
    avg.clear()
    avg += {'b': 1.0}
    assert list(avg.keys()) == ['b']


# TorchAverager


def test_vectors_count_each_element_and_scalars_count_one():
    avg = TorchAverager()
    avg += {'vec': torch.tensor([2.0, 2.0]), 'scalar': torch.tensor(4.0)}
    avg += {'vec': torch.tensor([0.0]), 'scalar': torch.tensor(0.0)}
    assert avg.counts == {'vec': 3, 'scalar': 2}
    reduced = avg.reduce()
    assert reduced['vec'].item() == pytest.approx(4 / 3)
    assert reduced['scalar'].item() == pytest.approx(2.0)


def test_reduce_returns_tensors_cached_until_next_update():
    avg = TorchAverager(a=torch.tensor([1.0, 3.0]))
    first = avg.reduce()
    assert isinstance(first['a'], torch.Tensor)
    assert avg.reduce()['a'] is first['a']
    first.clear()  # mutating the returned dict does not touch the cache
    assert 'a' in avg.reduce()
    avg += {'a': torch.tensor(8.0)}
    assert avg.reduce()['a'].item() == pytest.approx(4.0)


def test_counts_are_python_ints_and_sums_stay_detached_tensors():
    weight = torch.tensor(2.0, requires_grad=True)
    avg = TorchAverager(loss=weight * torch.ones(3))
    assert type(avg.counts['loss']) is int
    assert isinstance(avg.aggregate['loss'], torch.Tensor)
    assert not avg.aggregate['loss'].requires_grad


def test_half_precision_is_summed_in_float32():
    avg = TorchAverager()
    for _ in range(3):
        avg += {'a': torch.full((1000,), 30.0, dtype=torch.float16)}
    assert avg.aggregate['a'].dtype == torch.float32
    assert avg.aggregate['a'].item() == pytest.approx(90000.0)
    assert avg.reduce()['a'].item() == pytest.approx(30.0)


def test_integer_and_boolean_values_give_float_means():
    avg = TorchAverager(acc=torch.tensor([True, False, True, True]))
    avg += {'acc': torch.tensor([False, False, False, False])}
    assert avg.reduce()['acc'].item() == pytest.approx(3 / 8)


def test_updates_under_inference_mode_can_be_reduced_and_continued():
    avg = TorchAverager()
    with torch.inference_mode():
        avg += {'a': torch.tensor([1.0, 2.0])}
    avg += {'a': torch.tensor(3.0)}
    assert avg.reduce()['a'].item() == pytest.approx(2.0)


def test_update_makes_no_host_sync():
    values = {'a': torch.rand(8), 'b': torch.rand(())}
    avg = TorchAverager()
    with count_host_syncs() as counts:
        for _ in range(50):
            avg += values
        avg.reduce()
    assert sum(counts.values()) == 0, counts


def test_losses_kept_between_folds_give_the_exact_sums():
    # a batch's loss is kept until the sums are read or fold_every updates
    # were added; the folds must neither lose nor repeat a value
    weight = torch.tensor(2.0, requires_grad=True)
    avg = TorchAverager()
    avg.fold_every = 3
    for index in range(10):
        loss = (weight * index).mean()
        avg += {'loss': loss, 'vec': weight * torch.ones(2)}
        if index == 4:
            assert avg.aggregate['loss'].item() == pytest.approx(20.0)
    assert avg.counts == {'loss': 10, 'vec': 20}
    assert avg.aggregate['loss'].item() == pytest.approx(90.0)
    assert not avg.aggregate['loss'].requires_grad
    assert avg.reduce()['loss'].item() == pytest.approx(9.0)
    assert avg.reduce()['vec'].item() == pytest.approx(2.0)


def test_values_their_owner_updates_in_place_are_summed_when_added():
    buffer = torch.zeros(())  # e.g. a running value a metric object returns
    source = torch.zeros(3, requires_grad=True) * 1
    avg = TorchAverager()
    for value in (1.0, 2.0, 6.0):
        buffer.fill_(value)
        view = source[0]  # a view of a larger tensor, with a gradient
        avg += {'buffer': buffer, 'view': view}
        with torch.no_grad():
            source.add_(value)
    assert avg.reduce()['buffer'].item() == pytest.approx(3.0)
    assert avg.reduce()['view'].item() == pytest.approx(4 / 3)


def test_torch_averager_equality_and_copies():
    avg = TorchAverager(a=torch.tensor([1.0, 2.0]))
    same = TorchAverager(a=torch.tensor([2.0, 1.0]))
    assert avg == same
    assert avg == copy.deepcopy(avg)
    assert avg == pickle.loads(pickle.dumps(avg))
    assert avg != TorchAverager(a=torch.tensor(3.0))


def test_all_reduce_without_distributed_equals_reduce():
    avg = TorchAverager(a=torch.tensor([1.0, 2.0]))
    assert avg.all_reduce() == avg.reduce()


def test_all_reduce_with_single_process_group(tmp_path):
    dist.init_process_group(
        'gloo',
        init_method=f'file://{tmp_path / "store"}',
        rank=0,
        world_size=1,
    )
    try:
        avg = TorchAverager(b=torch.tensor([1.0, 2.0]), a=torch.tensor(4))
        synced = avg.all_reduce()
        assert synced['a'].item() == pytest.approx(4.0)
        assert synced['b'].item() == pytest.approx(1.5)
        assert avg.reduce()['b'].item() == pytest.approx(1.5)
        assert avg.counts == {'b': 2, 'a': 1}
    finally:
        dist.destroy_process_group()


def _all_reduce_worker(rank: int, port: int, results) -> None:
    dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=2,
    )
    try:
        avg = TorchAverager()
        # rank 0 holds one sample of 0, rank 1 three samples of 1
        avg += {'x': torch.full((1 + 2 * rank,), float(rank))}
        synced = avg.all_reduce()
        twice = avg.all_reduce()
        results[rank] = (synced['x'].item(), twice['x'].item())
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_all_reduce_sums_and_counts_across_two_processes():
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(_all_reduce_worker, args=(free_port(), results), nprocs=2)
    # per-sample mean over both processes: (0 + 1 + 1 + 1) / 4
    assert dict(results) == {0: (0.75, 0.75), 1: (0.75, 0.75)}


# filters


def test_trailing_mean():
    mean = get_trailing_mean(3)
    assert mean.__name__ == 'trailing_mean(window_size=3)'
    assert mean([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(4.0)
    assert mean([2.0, 4.0]) == pytest.approx(3.0)
    assert pickle.loads(pickle.dumps(mean))([1.0, 3.0]) == pytest.approx(2.0)


@pytest.mark.parametrize('window_size', [0, -1, 1.5, True])
def test_trailing_mean_rejects_bad_window(window_size):
    with pytest.raises(ValueError, match='window_size'):
        get_trailing_mean(window_size)


def test_moving_average_weights_recent_values_more():
    average = get_moving_average(decay=0.5, mass_coverage=0.75)
    assert average.__name__ == (
        'moving_average(decay=0.5, mass_coverage=0.75)'
    )
    # 1 - 0.5**2 = 0.75: only the two most recent values are kept
    assert average([100.0, 1.0, 2.0, 3.0]) == pytest.approx(
        (3 + 0.5 * 2) / 1.5
    )
    assert average([4.0]) == pytest.approx(4.0)


def test_moving_average_defaults_and_full_coverage():
    values = [float(i) for i in range(100)]
    default = get_moving_average()
    weights = [0.9**i for i in range(44)]  # 1 - 0.9**44 >= 0.99
    expected = sum(
        w * v for w, v in zip(weights, reversed(values), strict=False)
    ) / sum(weights)
    assert default(values) == pytest.approx(expected)
    whole = get_moving_average(0.5, 1.0)
    assert whole([8.0, 0.0]) == pytest.approx(0.5 * 8 / 1.5)


@pytest.mark.parametrize(
    ('decay', 'mass_coverage'),
    # the ranges of 0.1.0rc5: 0 < decay < 1, 1 - decay <= coverage <= 1
    [(1.0, 0.9), (-0.1, 0.9), (0.9, 0.0), (0, 0.99), (0.9, 0.05)],
)
def test_moving_average_validates_arguments(decay, mass_coverage):
    with pytest.raises(ValueError, match='Expected'):
        get_moving_average(decay, mass_coverage)


def test_filters_reject_empty_history():
    with pytest.raises(ValueError, match='non-empty'):
        get_moving_average()([])
    with pytest.raises(ValueError, match='non-empty'):
        get_trailing_mean(2)([])
    # what 0.1.0rc5 raised: code written for it catches this
    with pytest.raises(ZeroDivisionError, match='trailing_mean'):
        get_trailing_mean(5)([])
