"""Tests of drytorch.utils.formatting: one way to write numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from drytorch.utils.formatting import (
    format_bytes,
    format_count,
    format_duration,
    format_metrics,
    format_number,
    format_rate,
)


@pytest.mark.parametrize(
    ('value', 'expected'),
    [
        (0.75191234, '0.7519'),
        (12.5, '12.5'),
        (1234.56, '1235'),
        (0.001, '0.001'),
        (0.00123456, '0.001235'),
        (0.00005, '5e-05'),
        (123456.0, '1.235e+05'),
        (9999.7, '1e+04'),
        (-0.5, '-0.5'),
        (0.0, '0'),
        (math.nan, 'nan'),
        (math.inf, 'inf'),
        (-math.inf, '-inf'),
        (7, '7'),
        (123456789, '123456789'),
        (True, 'True'),
    ],
)
def test_numbers_have_four_significant_digits(
    value: object, expected: str
) -> None:
    assert format_number(value) == expected


def test_no_scientific_notation_between_one_thousandth_and_ten_thousand() -> (
    None
):
    for value in np.geomspace(1e-3, 9999.4, 500):
        assert 'e' not in format_number(float(value)), value


def test_tensors_and_numpy_scalars_are_written_as_numbers() -> None:
    assert format_number(torch.tensor(0.75191234)) == '0.7519'
    assert format_number(torch.tensor([3])) == '3'
    assert format_number(np.float32(0.5)) == '0.5'
    assert format_number(np.int64(12)) == '12'
    assert format_number(torch.zeros(2)) == str(torch.zeros(2))


def test_other_values_fall_back_to_str() -> None:
    assert format_number('adam') == 'adam'
    assert format_number(None) == 'None'


def test_metrics_and_helpers() -> None:
    assert format_metrics({'loss': 0.75191, 'acc': 0.9}) == (
        'loss=0.7519  acc=0.9'
    )
    assert format_count(24, 37) == '24/37'
    assert format_count(24, None) == '24'
    assert format_duration(7.4) == '00:07'
    assert format_duration(725) == '12:05'
    assert format_duration(3723) == '1:02:03'
    assert format_duration(-1) == '--:--'
    assert format_rate(4.444) == '4.444it/s'
    assert format_rate(0.5) == '2s/it'
    assert format_rate(0) == '?it/s'
    assert format_bytes(512) == '512 B'
    assert format_bytes(1536) == '1.5 KiB'
    assert format_bytes(3 * 1024**2) == '3 MiB'
