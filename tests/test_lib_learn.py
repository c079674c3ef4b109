from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from drytorch.lib.gradient_ops import GradNormClipper, NoOp
from drytorch.lib.learn import LearningSchema
from drytorch.lib.schedulers import ConstantScheduler, CosineScheduler


def build_optimizer(schema: LearningSchema) -> torch.optim.Optimizer:
    params = nn.Linear(2, 1).parameters()
    lr = schema.scheduler(schema.base_lr, 0)
    return schema.optimizer_cls(params, lr=lr, **schema.optimizer_defaults)


def test_defaults():
    schema = LearningSchema(torch.optim.Adam, 0.01)
    assert isinstance(schema.scheduler, ConstantScheduler)
    assert isinstance(schema.gradient_op, NoOp)
    assert schema.optimizer_defaults == {}


def test_defaults_are_not_shared():
    first = LearningSchema(torch.optim.Adam, 0.01)
    second = LearningSchema(torch.optim.Adam, 0.01)
    assert first.optimizer_defaults is not second.optimizer_defaults
    assert first.gradient_op is not second.gradient_op
    assert first.scheduler is not second.scheduler
    assert LearningSchema.adam().gradient_op is not (
        LearningSchema.adam().gradient_op
    )
    assert first == second


def test_given_mappings_are_copied():
    defaults = {'betas': (0.5, 0.9)}
    base_lr = {'encoder': 0.1}
    schema = LearningSchema(
        torch.optim.Adam, base_lr, optimizer_defaults=defaults
    )
    defaults['eps'] = 1.0
    base_lr['decoder'] = 0.2
    assert schema.optimizer_defaults == {'betas': (0.5, 0.9)}
    assert schema.base_lr == {'encoder': 0.1}


def test_frozen():
    schema = LearningSchema.adam()
    with pytest.raises(dataclasses.FrozenInstanceError):
        schema.base_lr = 0.1  # type: ignore[misc]


def test_adam():
    schema = LearningSchema.adam()
    assert schema.optimizer_cls is torch.optim.Adam
    assert schema.base_lr == 1e-3
    assert schema.optimizer_defaults == {'betas': (0.9, 0.999)}
    assert isinstance(build_optimizer(schema), torch.optim.Adam)


def test_adam_w():
    schema = LearningSchema.adam_w(0.1, betas=(0.8, 0.9), weight_decay=0.5)
    assert schema.optimizer_cls is torch.optim.AdamW
    assert schema.base_lr == 0.1
    assert schema.optimizer_defaults == {
        'betas': (0.8, 0.9),
        'weight_decay': 0.5,
    }
    assert LearningSchema.adam_w().optimizer_defaults['weight_decay'] == 1e-2
    build_optimizer(schema)


def test_sgd():
    schema = LearningSchema.sgd()
    assert schema.optimizer_cls is torch.optim.SGD
    assert schema.base_lr == 0.01
    assert schema.optimizer_defaults == {
        'momentum': 0.0,
        'weight_decay': 0.0,
        'dampening': 0.0,
        'nesterov': False,
    }
    nesterov = LearningSchema.sgd(0.1, 0.9, 1e-4, 0.0, True)
    optimizer = build_optimizer(nesterov)
    assert optimizer.param_groups[0]['nesterov'] is True
    assert optimizer.param_groups[0]['momentum'] == 0.9


@pytest.mark.parametrize(
    ('weight_decay', 'decoupled'), [(0.0, False), (0.1, True)]
)
def test_r_adam(weight_decay, decoupled):
    schema = LearningSchema.r_adam(weight_decay=weight_decay)
    assert schema.optimizer_cls is torch.optim.RAdam
    assert schema.optimizer_defaults == {
        'betas': (0.9, 0.999),
        'weight_decay': weight_decay,
        'decoupled_weight_decay': decoupled,
    }
    optimizer = build_optimizer(schema)
    assert optimizer.param_groups[0]['decoupled_weight_decay'] is decoupled


def test_constructors_pass_scheduler_and_gradient_op():
    scheduler = CosineScheduler(10)
    gradient_op = GradNormClipper(2.0)
    for constructor in (
        LearningSchema.adam,
        LearningSchema.adam_w,
        LearningSchema.sgd,
        LearningSchema.r_adam,
    ):
        schema = constructor(0.5, scheduler=scheduler, gradient_op=gradient_op)
        assert schema.base_lr == 0.5
        assert schema.scheduler is scheduler
        assert schema.gradient_op is gradient_op


def test_dict_base_lr():
    schema = LearningSchema.adam({'encoder': 0.1, 'decoder': 1})
    assert schema.base_lr == {'encoder': 0.1, 'decoder': 1}


@pytest.mark.parametrize(
    ('kwargs', 'error', 'match'),
    [
        ({'base_lr': 0.0}, ValueError, 'positive number.*got 0.0'),
        ({'base_lr': -1e-3}, ValueError, 'base_lr'),
        ({'base_lr': float('nan')}, ValueError, 'base_lr'),
        ({'base_lr': float('inf')}, ValueError, 'base_lr'),
        ({'base_lr': {}}, ValueError, 'non-empty mapping.*got {}'),
        ({'base_lr': {'enc': 0}}, ValueError, 'base_lr'),
        ({'base_lr': {1: 0.1}}, ValueError, 'base_lr'),
        ({'base_lr': {'enc': '0.1'}}, ValueError, 'base_lr'),
        ({'base_lr': '0.1'}, TypeError, 'base_lr'),
        ({'base_lr': True}, TypeError, 'base_lr'),
        ({'optimizer_cls': nn.Linear}, TypeError, 'torch.optim.Optimizer'),
        (
            {'optimizer_cls': torch.optim.Adam([nn.Parameter(torch.ones(1))])},
            TypeError,
            'subclass',
        ),
        ({'scheduler': 0.1}, TypeError, 'scheduler'),
        ({'gradient_op': 'clip'}, TypeError, 'gradient_op'),
        ({'optimizer_defaults': [('betas', 1)]}, TypeError, 'mapping'),
        ({'optimizer_defaults': {1: 2}}, TypeError, 'string keys'),
    ],
)
def test_validation(kwargs, error, match):
    arguments = {'optimizer_cls': torch.optim.Adam, 'base_lr': 0.1, **kwargs}
    with pytest.raises(error, match=match) as info:
        LearningSchema(**arguments)
    assert 'Expected' in str(info.value)


@pytest.mark.parametrize(
    ('factory', 'match'),
    [
        (lambda: LearningSchema.adam(betas=(0.9, 1.0)), 'betas'),
        (lambda: LearningSchema.adam(betas=(0.9,)), 'betas'),
        (lambda: LearningSchema.adam_w(weight_decay=-1), 'weight_decay >= 0'),
        (lambda: LearningSchema.r_adam(weight_decay=-1), 'weight_decay'),
        (lambda: LearningSchema.sgd(momentum=-0.1), 'momentum'),
        (lambda: LearningSchema.sgd(dampening=-0.1), 'dampening'),
        (lambda: LearningSchema.sgd(0.0), 'base_lr'),
    ],
)
def test_constructor_validation(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_sgd_nesterov_with_dampening_fails_where_torch_does():
    """As in 0.1.0rc5: the schema builds, torch refuses the optimizer."""
    schema = LearningSchema.sgd(momentum=0.9, dampening=0.1, nesterov=True)
    assert schema.optimizer_defaults['dampening'] == 0.1
    with pytest.raises(ValueError, match=r'[Nn]esterov'):
        build_optimizer(schema)


def test_repr_names_the_optimizer_and_scheduler():
    text = repr(LearningSchema.adam(0.01))
    assert 'Adam' in text
    assert 'ConstantScheduler()' in text
