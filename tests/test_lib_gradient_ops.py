from __future__ import annotations

import gc

import pytest
import torch
from torch import nn

from drytorch.core import exceptions
from drytorch.lib.gradient_ops import (
    ClipOperation,
    ClippingCriterion,
    EMACriterion,
    GradNormClipper,
    GradParamNormalizer,
    GradValueClipper,
    GradZScoreNormalizer,
    HistClipper,
    NoOp,
    ParamHistClipper,
    StatsCollector,
    ZStatCriterion,
    max_clipping,
    mean_clipping,
    reciprocal_clipping,
)


def make_params(*shapes, scale=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    params = []
    for shape in shapes:
        param = nn.Parameter(torch.zeros(shape))
        param.grad = torch.randn(shape, generator=generator) * scale
        params.append(param)
    return params


def global_norm(params):
    return torch.linalg.vector_norm(
        torch.stack([p.grad.norm() for p in params if p.grad is not None])
    ).item()


def set_grads(params, generator, scale=0.01):
    for param in params:
        param.grad = torch.randn(param.shape, generator=generator) * scale


def test_noop_leaves_gradients():
    params = make_params((3, 2))
    before = params[0].grad.clone()
    NoOp()(iter(params))
    assert torch.equal(params[0].grad, before)
    assert NoOp() == NoOp()


def test_param_normalizer_gives_unit_norms_and_skips_zero():
    params = make_params((4, 3), (5,), scale=7.0)
    zero = nn.Parameter(torch.zeros(3))
    zero.grad = torch.zeros(3)
    no_grad = nn.Parameter(torch.zeros(2))
    GradParamNormalizer()(iter([*params, zero, no_grad]))
    for param in params:
        assert param.grad.norm().item() == pytest.approx(1.0)
    assert torch.equal(zero.grad, torch.zeros(3))
    assert no_grad.grad is None


def test_zscore_normalizer():
    params = make_params((10, 10), scale=5.0)
    GradZScoreNormalizer()(params)
    grad = params[0].grad
    assert grad.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert grad.std().item() == pytest.approx(1.0, rel=1e-5)


def test_zscore_normalizer_one_element_has_no_nan_d20():
    # the reference turned a one-element gradient into NaN
    param = nn.Parameter(torch.zeros(1))
    param.grad = torch.tensor([3.0])
    scalar = nn.Parameter(torch.tensor(0.0))
    scalar.grad = torch.tensor(-2.0)
    GradZScoreNormalizer()([param, scalar])
    assert not torch.isnan(param.grad).any()
    assert torch.equal(param.grad, torch.tensor([3.0]))
    assert scalar.grad.item() == -2.0


def test_zscore_constant_gradient_is_zero_not_nan():
    param = nn.Parameter(torch.zeros(4))
    param.grad = torch.full((4,), 2.0)
    GradZScoreNormalizer()([param])
    assert torch.equal(param.grad, torch.zeros(4))


@pytest.mark.parametrize('threshold', [0.5, 1, 3.0])
def test_norm_clipper_clips_global_norm(threshold):
    params = make_params((20, 20), (20,), scale=2.0)
    assert global_norm(params) > threshold
    GradNormClipper(threshold)(iter(params))
    assert global_norm(params) <= threshold * (1 + 1e-5)
    assert global_norm(params) == pytest.approx(threshold, rel=1e-5)


def test_norm_clipper_leaves_small_gradients():
    params = make_params((3,), scale=0.01)
    before = params[0].grad.clone()
    GradNormClipper(1)(params)
    assert torch.equal(params[0].grad, before)


def test_value_clipper():
    params = make_params((20, 20), scale=3.0)
    GradValueClipper(0.5)(iter(params))
    assert params[0].grad.abs().max().item() <= 0.5
    assert params[0].grad.abs().max().item() == pytest.approx(0.5)


@pytest.mark.parametrize(
    ('factory', 'error', 'match'),
    [
        (lambda: GradNormClipper(0), ValueError, 'threshold > 0, got 0'),
        (lambda: GradValueClipper(-1), ValueError, 'threshold > 0'),
        (lambda: GradNormClipper('1'), TypeError, 'threshold.*number'),
        (lambda: GradZScoreNormalizer(0.0), ValueError, 'eps > 0'),
        (lambda: EMACriterion(alpha=1.5), ValueError, r'alpha in \[0, 1\]'),
        (lambda: EMACriterion(r_thresh=0), ValueError, 'r_thresh'),
        (lambda: EMACriterion(clipping_function=3), TypeError, 'clipping'),
        (lambda: ZStatCriterion(z_thresh=-1), ValueError, 'z_thresh'),
        (lambda: ZStatCriterion(eps=0), ValueError, 'eps'),
        (lambda: StatsCollector(0), ValueError, 'max_samples.*got 0'),
        (lambda: StatsCollector(2.0), TypeError, 'max_samples.*integer'),
        (lambda: HistClipper(n_warmup_steps=0), ValueError, 'n_warmup'),
        (lambda: HistClipper(criterion=NoOp()), TypeError, 'Criterion'),
        (lambda: ParamHistClipper(warmup_clip_strategy=1), TypeError, 'op'),
    ],
)
def test_invalid_parameters(factory, error, match):
    with pytest.raises(error, match=match) as info:
        factory()
    assert 'Expected' in str(info.value)


def test_abstract_bases():
    with pytest.raises(TypeError):
        ClipOperation()  # type: ignore[abstract]
    with pytest.raises(TypeError):
        ClippingCriterion()  # type: ignore[abstract]
    assert isinstance(HistClipper(), ClipOperation)
    assert isinstance(ParamHistClipper(), ClipOperation)


def test_clipping_functions():
    assert reciprocal_clipping(torch.tensor(5.0), 2.5).item() == 1.25
    assert reciprocal_clipping(10.0, 2.0) == 0.4  # type: ignore[arg-type]
    assert mean_clipping(torch.tensor(5.0), 2.5) == 0
    assert max_clipping(torch.tensor(5.0), 2.5) == 2.5


def test_stats_collector():
    collector = StatsCollector(3)
    with pytest.raises(exceptions.ResultNotAvailableError):
        _ = collector.mean
    assert collector.variance.item() == 1.0
    collector.append(torch.tensor(2.0))
    assert collector.variance.item() == 1.0
    assert collector.active and not collector.is_complete
    collector.append(4.0)
    collector.append(torch.tensor([6.0]))
    assert len(collector) == 3
    assert collector.is_complete and not collector.active
    assert collector.mean.item() == pytest.approx(4.0)
    assert collector.variance.item() == pytest.approx(4.0)  # sample variance
    collector.append(8.0)  # oldest value dropped
    assert len(collector) == 3
    assert collector.mean.item() == pytest.approx(6.0)
    collector.reset()
    assert len(collector) == 0 and collector.active


def test_ema_criterion():
    criterion = EMACriterion(alpha=0.5, r_thresh=2.0)
    value = torch.tensor(10.0)
    assert not criterion.should_clip(value)
    criterion.set_statistics(torch.tensor(2.0))
    assert criterion.should_clip(torch.tensor(5.0))
    assert not criterion.should_clip(torch.tensor(3.0))
    assert criterion.get_clip_value(torch.tensor(5.0)).item() == 4.0
    criterion.update(torch.tensor(4.0))
    assert criterion.mean.item() == 3.0
    criterion.reset()
    assert criterion.mean is None


def test_zstat_criterion():
    criterion = ZStatCriterion(alpha=0.5, z_thresh=2.0, eps=1e-12)
    criterion.set_statistics(torch.tensor(1.0), torch.tensor(0.25))
    # z = (value - 1) / 0.5
    assert not criterion.should_clip(torch.tensor(1.9))
    assert criterion.should_clip(torch.tensor(3.0))  # z = 4
    # reciprocal clipping: 1 + 2**2 / 4 * 0.5
    clip_value = criterion.get_clip_value(torch.tensor(3.0)).item()
    assert clip_value == pytest.approx(1.5)
    criterion.update(torch.tensor(2.0))
    assert criterion.mean.item() == 1.5
    assert criterion.variance.item() == pytest.approx(0.5 * 0.25 + 0.5 * 0.25)


def test_zstat_criterion_never_clips_small_values():
    # |z| > z_thresh in the reference: a tiny gradient would be enlarged
    criterion = ZStatCriterion(z_thresh=2.0)
    criterion.set_statistics(torch.tensor(10.0), torch.tensor(1.0))
    assert not criterion.should_clip(torch.tensor(0.01))


def test_hist_clippers_do_not_share_state_d20():
    first, second = HistClipper(), HistClipper()
    assert first.criterion is not second.criterion
    assert first.warmup_clip_strategy is not second.warmup_clip_strategy
    p_first, p_second = ParamHistClipper(), ParamHistClipper()
    assert p_first.criterion is not p_second.criterion
    generator = torch.Generator().manual_seed(0)
    params = make_params((5, 5))
    for _ in range(first.n_warmup_steps + 3):
        set_grads(params, generator)
        first(params)
    assert first.criterion.mean is not None
    assert second.criterion.mean is None


def run_spike(clipper, n_steps=30, spike_step=25, seed=0):
    generator = torch.Generator().manual_seed(seed)
    layer = nn.Linear(10, 10)
    params = list(layer.parameters())
    result = {}
    for step in range(n_steps):
        set_grads(params, generator)
        if step == spike_step:
            layer.weight.grad *= 1000
            result['before'] = layer.weight.grad.norm().item()
            result['bias_before'] = layer.bias.grad.clone()
        clipper(layer.parameters())
        if step == spike_step:
            result['after'] = layer.weight.grad.norm().item()
            result['bias_after'] = layer.bias.grad.clone()
    return result


def test_hist_clipper_clips_a_spike_after_warmup():
    result = run_spike(HistClipper())
    assert result['before'] > 50
    assert result['after'] < 0.2


def test_param_hist_clipper_clips_a_spike_after_warmup_d20():
    # the reference asked the untouched template criterion: no clipping
    clipper = ParamHistClipper()
    result = run_spike(clipper)
    assert result['before'] > 50
    assert result['after'] < 0.2
    # the other parameter is judged by its own statistics: unchanged
    assert torch.equal(result['bias_before'], result['bias_after'])
    # the template is never updated
    assert clipper.criterion.mean is None


def test_hist_clipper_warmup_uses_strategy():
    clipper = HistClipper(warmup_clip_strategy=GradNormClipper(0.5))
    params = make_params((10, 10), scale=1.0)
    clipper(params)
    assert global_norm(params) == pytest.approx(0.5, rel=1e-5)


def test_hist_clipper_does_not_touch_normal_gradients():
    clipper = HistClipper(warmup_clip_strategy=NoOp(), n_warmup_steps=5)
    generator = torch.Generator().manual_seed(1)
    params = make_params((10, 10))
    for _ in range(10):
        set_grads(params, generator)
        before = params[0].grad.clone()
        clipper(params)
        assert torch.equal(params[0].grad, before)


def test_hist_clipper_reset_restarts_warmup():
    clipper = HistClipper(warmup_clip_strategy=NoOp(), n_warmup_steps=3)
    generator = torch.Generator().manual_seed(2)
    params = make_params((4,))
    for _ in range(4):
        set_grads(params, generator)
        clipper(params)
    clipper.reset()
    assert clipper.criterion.mean is None
    set_grads(params, generator)
    params[0].grad *= 1000
    before = params[0].grad.clone()
    clipper(params)  # warming up again: NoOp strategy, no clipping
    assert torch.equal(params[0].grad, before)


def test_hist_clipper_with_ema_criterion_and_given_template():
    criterion = EMACriterion()
    clipper = HistClipper(criterion=criterion)
    assert clipper.criterion is criterion
    result = run_spike(clipper)
    assert result['after'] < 0.2
    template = ZStatCriterion(z_thresh=3.0)
    param_clipper = ParamHistClipper(criterion=template)
    result = run_spike(param_clipper)
    assert result['after'] < 0.2
    assert template.mean is None


def test_param_hist_clipper_forgets_dead_parameters():
    clipper = ParamHistClipper()
    params = make_params((3,), (4,))
    clipper(params)
    assert len(clipper._states) == 2
    del params
    gc.collect()
    assert len(clipper._states) == 0
    clipper.reset()


def test_no_gradients_is_a_no_op():
    param = nn.Parameter(torch.zeros(3))
    for op in (HistClipper(), ParamHistClipper(), GradNormClipper()):
        op([param])
        op([])
    assert param.grad is None


def test_clippers_do_not_sync_the_host(monkeypatch):
    calls = []
    original_item = torch.Tensor.item
    original_bool = torch.Tensor.__bool__

    def item(self):
        calls.append('item')
        return original_item(self)

    def as_bool(self):
        calls.append('bool')
        return original_bool(self)

    generator = torch.Generator().manual_seed(3)
    params = make_params((8, 8), (8,))
    clippers = [HistClipper(n_warmup_steps=3), ParamHistClipper(None, None, 3)]
    monkeypatch.setattr(torch.Tensor, 'item', item)
    monkeypatch.setattr(torch.Tensor, '__bool__', as_bool)
    for _ in range(6):
        for clipper in clippers:
            set_grads(params, generator)
            clipper(params)
    assert calls == []
    _ = params[0].grad.sum().item(), bool(params[0].grad.sum())
    monkeypatch.undo()
    assert calls == ['item', 'bool']  # the probe does see host syncs
