"""drytorch.utils.repr_utils: readable, bounded descriptions for metadata."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import math
import operator
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn

from drytorch.core import exceptions
from drytorch.utils import repr_utils
from drytorch.utils.repr_utils import (
    CreatedAtMixin,
    DefaultName,
    LiteralStr,
    Omitted,
    extract_metadata,
    recursive_repr,
)

# ---------------------------------------------------------------- helpers


class Empty:
    pass


class WithRepr:
    def __repr__(self) -> str:
        return 'WithRepr(custom)'


class Chain:
    def __init__(self, length: int) -> None:
        self.n = length
        self.next = Chain(length - 1) if length > 1 else None


@dataclasses.dataclass
class AllSettings:
    lr = 0.1  # class attribute, not a field


class Point(NamedTuple):
    x: int
    y: int


# ------------------------------------------------------------ CreatedAt


class TestCreatedAtMixin:
    def test_created_at_is_construction_time(self) -> None:
        before = datetime.datetime.now()

        class Thing(CreatedAtMixin):
            pass

        thing = Thing()
        after = datetime.datetime.now()
        assert before <= thing.created_at <= after
        assert thing.created_at == thing.created_at  # stable

    def test_created_at_str_format(self) -> None:
        class Thing(CreatedAtMixin):
            pass

        thing = Thing()
        assert CreatedAtMixin.ts_fmt == '%Y-%m-%d@%Hh%Mm%Ss'
        assert re.fullmatch(
            r'\d{4}-\d\d-\d\d@\d\dh\d\dm\d\ds', thing.created_at_str
        )
        assert thing.created_at_str == thing.created_at.strftime(
            '%Y-%m-%d@%Hh%Mm%Ss'
        )

    def test_subclass_init_without_super_call(self) -> None:
        class NoSuper(CreatedAtMixin):
            def __init__(self, value: int, *, flag: bool = False) -> None:
                self.value = value
                self.flag = flag

        obj = NoSuper(3, flag=True)
        assert obj.value == 3
        assert isinstance(obj.created_at, datetime.datetime)

    def test_with_nn_module(self) -> None:
        class Net(CreatedAtMixin, nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.lin = nn.Linear(2, 2)

        net = Net()
        assert isinstance(net.created_at, datetime.datetime)
        assert 'lin' in dict(net.named_children())

    def test_creation_time_hidden_from_metadata(self) -> None:
        class Thing(CreatedAtMixin):
            def __init__(self) -> None:
                self.a = 1

        assert recursive_repr(Thing()) == {'class': 'Thing', 'a': 1}


# ---------------------------------------------------------- DefaultName


class Named:
    name = DefaultName()

    def __init__(self, name: str | None = '') -> None:
        self.name = name


class SubNamed(Named):
    pass


class TestDefaultName:
    def test_empty_or_none_becomes_class_name(self) -> None:
        assert Named().name == 'Named'
        assert Named(None).name == 'Named'
        assert SubNamed().name == 'SubNamed'

    def test_explicit_name_kept(self) -> None:
        assert Named('mine').name == 'mine'

    def test_repeated_names_get_no_counter(self) -> None:
        # a name used again (an object re-created by a notebook cell) stays
        # the same, not 'X_1': files written under it are found again
        names = [Named('X').name for _ in range(3)]
        assert names == ['X', 'X', 'X']
        defaults = [SubNamed().name for _ in range(3)]
        assert defaults == ['SubNamed'] * 3

    def test_reassignment(self) -> None:
        obj = Named('a')
        obj.name = 'b'
        assert obj.name == 'b'
        obj.name = ''
        assert obj.name == 'Named'

    def test_non_string_rejected(self) -> None:
        with pytest.raises(TypeError, match='Expected a str or None'):
            Named(3)  # type: ignore[arg-type]

    def test_class_access_returns_descriptor(self) -> None:
        assert isinstance(Named.__dict__['name'], DefaultName)
        assert isinstance(Named.name, DefaultName)


# ---------------------------------------------------- LiteralStr/Omitted


class TestLiteralStrAndOmitted:
    def test_literal_str_concatenation_keeps_type(self) -> None:
        text = LiteralStr('a')
        assert isinstance(text, str)
        assert type(text + 'b') is LiteralStr
        assert type('b' + text) is LiteralStr
        assert text + 'b' == 'ab'
        assert 'b' + text == 'ba'

    def test_omitted_repr_and_count(self) -> None:
        assert repr(Omitted(5)) == 'Omitted(5)'
        assert math.isnan(Omitted().count)
        assert 'nan' in repr(Omitted())
        assert Omitted(3) == Omitted(3)
        assert Omitted() == Omitted()
        assert Omitted(3) != Omitted(4)
        assert len({Omitted(), Omitted(), Omitted(1)}) == 2

    def test_constants(self) -> None:
        assert repr_utils.MAX_DEPTH == 10
        assert repr_utils.MAX_REPR_SIZE == 10
        assert repr_utils.INCLUDE_PROPERTIES is False


# ------------------------------------------------- generic object rules


class TestGenericObjects:
    def test_class_and_sorted_public_attributes(self) -> None:
        class Obj:
            def __init__(self) -> None:
                self.zeta = 1
                self.alpha = 'a'
                self.mid = 2.5

        result = recursive_repr(Obj())
        assert result == {'class': 'Obj', 'alpha': 'a', 'mid': 2.5, 'zeta': 1}
        assert list(result) == ['class', 'alpha', 'mid', 'zeta']

    def test_skipped_attributes(self) -> None:
        class Obj:
            kept_class_level = 5

            def __init__(self) -> None:
                self._private = 1
                self.none = None
                self.itself = self
                self.empty_list: list[int] = []
                self.empty_dict: dict[str, int] = {}
                self.empty_set: set[int] = set()
                self.empty_str = ''
                self.empty_tensor = torch.empty(0, 3)
                self.empty_array = np.empty((3, 0))
                self.zero = 0
                self.false = False
                self.kept = 'x'

        result = recursive_repr(Obj())
        assert result == {
            'class': 'Obj',
            'false': False,
            'kept': 'x',
            'zero': 0,
        }

    def test_only_class_attributes_gives_repr(self) -> None:
        assert recursive_repr(AllSettings()) == 'AllSettings()'

    def test_slots(self) -> None:
        @dataclasses.dataclass(frozen=True, slots=True)
        class Slotted:
            a: int = 1
            b: str = 'b'
            _c: int = 3

        class PartlySet:
            __slots__ = ('set_one', 'unset')

            def __init__(self) -> None:
                self.set_one = 1

        assert recursive_repr(Slotted()) == {
            'class': 'Slotted',
            'a': 1,
            'b': 'b',
        }
        assert recursive_repr(PartlySet()) == {
            'class': 'PartlySet',
            'set_one': 1,
        }

    def test_no_attributes_custom_repr_or_class_name(self) -> None:
        def generator() -> types.GeneratorType[int, None, None]:
            yield 1

        assert recursive_repr(Empty()) == 'Empty'
        assert recursive_repr(WithRepr()) == 'WithRepr(custom)'
        assert recursive_repr(generator()) == 'generator'
        assert recursive_repr(range(0, 17)) == 'range(0, 17)'

    def test_depth_chain_shows_max_depth_levels(self) -> None:
        result = recursive_repr(Chain(12))
        levels = 0
        while isinstance(result, dict):
            levels += 1
            result = result['next']
        assert levels == 10
        assert result == 'Chain'

    def test_explicit_depth(self) -> None:
        assert recursive_repr(Chain(3), depth=0) == 'Chain'
        result = recursive_repr(Chain(3), depth=1)
        assert result == {'class': 'Chain', 'n': 3, 'next': 'Chain'}
        full = recursive_repr(Chain(30), depth=1000)
        levels = 0
        while isinstance(full, dict):
            levels += 1
            full = full.get('next')
        assert levels == 30

    def test_max_depth_read_at_call_time(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(repr_utils, 'MAX_DEPTH', 1)
        assert recursive_repr(Chain(3)) == {
            'class': 'Chain',
            'n': 3,
            'next': 'Chain',
        }

    def test_properties_only_when_enabled(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        class WithProps:
            def __init__(self) -> None:
                self.a = 1

            @property
            def double(self) -> int:
                return 2 * self.a

            @property
            def broken(self) -> int:
                raise ValueError('no value')

            @property
            def _hidden(self) -> int:
                return 0

        assert recursive_repr(WithProps()) == {'class': 'WithProps', 'a': 1}
        monkeypatch.setattr(repr_utils, 'INCLUDE_PROPERTIES', True)
        assert recursive_repr(WithProps()) == {
            'class': 'WithProps',
            'a': 1,
            'broken': 'no value',
            'double': 2,
        }

    def test_nn_module_attribute_public_instance_attributes(self) -> None:
        class Holder:
            def __init__(self) -> None:
                self.module = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
                self.linear = nn.Linear(3, 1)

        result = recursive_repr(Holder())
        assert result['linear'] == {
            'class': 'Linear',
            'in_features': 3,
            'out_features': 1,
            'training': True,
        }
        assert result['module'] == {'class': 'Sequential', 'training': True}

    def test_nn_module_without_depth_is_its_class_name(self) -> None:
        class BigRepr(nn.Module):
            def __repr__(self) -> str:  # would be the whole architecture
                raise AssertionError('the module repr must not be computed')

        assert recursive_repr(BigRepr(), depth=0) == 'BigRepr'


# ------------------------------------------------------ value rules


class TestValueRules:
    def test_str_and_none_unchanged(self) -> None:
        assert recursive_repr('text') == 'text'
        assert recursive_repr(None) is None
        literal = LiteralStr('block')
        assert recursive_repr(literal) is literal
        assert type(recursive_repr(np.str_('a'))) is str

    def test_none_kept_inside_containers(self) -> None:
        assert recursive_repr([None, 1]) == [None, 1]
        assert recursive_repr({'a': None}) == {'a': None}

    def test_numbers(self) -> None:
        value = recursive_repr(np.float32(1.5))
        assert value == 1.5
        assert type(value) is float
        assert type(recursive_repr(np.int64(3))) is int
        assert type(recursive_repr(np.bool_(True))) is bool
        assert recursive_repr(True) is True
        assert recursive_repr(1 + 2j) == 1 + 2j
        assert type(recursive_repr(3)) is int
        assert recursive_repr(0.25) == 0.25

    def test_sequences_keep_type(self) -> None:
        assert recursive_repr([1, np.int64(2)]) == [1, 2]
        assert recursive_repr((1, 2)) == (1, 2)
        assert type(recursive_repr((1, 2))) is tuple
        assert recursive_repr({1, 2}) == {1, 2}
        assert recursive_repr(frozenset({1})) == frozenset({1})
        point = recursive_repr(Point(1, 2))
        assert point == Point(1, 2)
        assert type(point) is Point

    def test_long_sequences_elided(self) -> None:
        result = recursive_repr(list(range(25)))
        assert result == [0, 1, 2, 3, 4, Omitted(15), 20, 21, 22, 23, 24]
        assert recursive_repr(list(range(10))) == list(range(10))
        as_tuple = recursive_repr(tuple(range(11)))
        assert as_tuple == (0, 1, 2, 3, 4, Omitted(1), 6, 7, 8, 9, 10)

    def test_max_repr_size_read_at_call_time(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(repr_utils, 'MAX_REPR_SIZE', 4)
        assert recursive_repr(list(range(6))) == [0, 1, Omitted(2), 4, 5]

    def test_dict_keys_str_and_elided(self) -> None:
        assert recursive_repr({1: 'a', (2, 3): 'b'}) == {
            '1': 'a',
            '(2, 3)': 'b',
        }
        result = recursive_repr({i: i for i in range(13)})
        assert list(result)[:10] == [str(i) for i in range(10)]
        assert result['...'] == Omitted(3)
        assert len(result) == 11

    def test_nested_containers_recurse(self) -> None:
        assert recursive_repr({'a': [Empty(), {'b': np.float64(0.5)}]}) == {
            'a': ['Empty', {'b': 0.5}]
        }

    def test_ndarray(self) -> None:
        result = recursive_repr(np.array([1.23456, 1e-8, 3.0]))
        assert isinstance(result, LiteralStr)
        assert result.startswith('Array of size (3,)\n')
        assert '1.235' in result
        assert 'e-' not in result  # scientific notation suppressed

    def test_ndarray_summarized(self) -> None:
        result = recursive_repr(np.arange(100.0))
        assert result.startswith('Array of size (100,)\n')
        assert '...' in result
        assert '50.' not in result
        matrix = recursive_repr(np.zeros((22, 3)))
        assert matrix.startswith('Array of size (22, 3)\n')
        assert matrix.count('\n') < 10

    def test_ndarray_print_options_restored(self) -> None:
        before = np.get_printoptions()
        recursive_repr(np.arange(100.0))
        assert np.get_printoptions() == before

    def test_tensor(self) -> None:
        tensor = torch.ones(2, 2, requires_grad=True)
        result = recursive_repr(tensor)
        assert isinstance(result, LiteralStr)
        assert result == recursive_repr(np.ones((2, 2), dtype=np.float32))
        assert result.startswith('Array of size (2, 2)\n')
        bfloat = recursive_repr(torch.ones(3, dtype=torch.bfloat16))
        assert bfloat.startswith('Array of size (3,)\n')

    @pytest.mark.parametrize(
        'shape',
        [(100,), (1000, 1), (1, 1000), (50, 50), (3, 40, 2), (9, 2, 2, 9)],
    )
    def test_large_arrays_match_numpy_summary(
        self, shape: tuple[int, ...]
    ) -> None:
        # Only the edges are converted; the text must be numpy's summary.
        array = np.random.default_rng(0).normal(size=shape) * 1000
        ndim = len(shape)
        with np.printoptions(
            precision=3,
            suppress=True,
            threshold=10 // 2 ** (ndim - 1),
            edgeitems=max(1, 10 // 2**ndim),
        ):
            expected = f'Array of size {shape}\n{array}'
        assert recursive_repr(array) == expected
        assert recursive_repr(torch.from_numpy(array)) == expected

    def test_tensors_numpy_cannot_hold(self) -> None:
        meta = recursive_repr(torch.ones(2, 3, device='meta'))
        assert meta.startswith('Tensor of size (2, 3)')
        sparse = recursive_repr(torch.eye(3).to_sparse())
        assert sparse.startswith('Tensor of size (3, 3), layout')

    def test_classes_and_functions(self) -> None:
        def saving_hook() -> None:
            return None

        assert recursive_repr(torch.optim.Adam) == 'Adam'
        assert recursive_repr(int) == 'int'
        assert recursive_repr(lambda: None) == '<lambda>'
        assert recursive_repr(saving_hook) == 'saving_hook'

    def test_builtins_partials_itemgetters_use_repr(self) -> None:
        assert recursive_repr(len) == '<built-in function len>'
        getter = operator.itemgetter('MSE')
        assert recursive_repr(getter) == "operator.itemgetter('MSE')"
        partial = functools.partial(max, 1)
        assert recursive_repr(partial) == repr(partial)

    def test_omitted_passes_through(self) -> None:
        marker = Omitted(2)
        assert recursive_repr(marker) is marker

    def test_register_new_type(self) -> None:
        class Special:
            pass

        @recursive_repr.register(Special)
        def _(obj: Special, *, depth: int | None = None) -> str:
            return 'special!'

        assert recursive_repr([Special()]) == ['special!']


# ---------------------------------------------------------------- pandas


class TestPandas:
    def test_not_imported_by_module(self) -> None:
        code = (
            'import sys, drytorch.utils.repr_utils; '
            "print('pandas' in sys.modules)"
        )
        output = subprocess.run(
            [sys.executable, '-c', code],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert output.strip() == 'False'

    def test_frames_printed_when_pandas_loaded(self) -> None:
        pd = pytest.importorskip('pandas')
        frame = pd.DataFrame({f'c{i}': range(30) for i in range(15)})
        result = recursive_repr(frame)
        assert isinstance(result, LiteralStr)
        assert '...' in result

    def test_uses_the_loaded_pandas_module(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A stand-in pandas: the handler must find it in sys.modules.
        fake = types.ModuleType('pandas')
        seen_options: list[dict[str, object]] = []

        class DataFrame:
            def __str__(self) -> str:
                return 'col\n0 1.0'

        class Series(DataFrame):
            pass

        @contextlib.contextmanager
        def option_context(*args: object) -> Iterator[None]:
            seen_options.append(dict(zip(args[::2], args[1::2])))
            yield

        fake.DataFrame = DataFrame  # type: ignore[attr-defined]
        fake.Series = Series  # type: ignore[attr-defined]
        fake.option_context = option_context  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, 'pandas', fake)
        result = recursive_repr(Series())
        assert result == 'col\n0 1.0'
        assert isinstance(result, LiteralStr)
        assert seen_options == [
            {
                'display.max_rows': 10,
                'display.max_columns': 10,
                'display.precision': 3,
            }
        ]


# ------------------------------------------------------------- recursion


class TestRecursion:
    def test_self_containing_list_raises(self) -> None:
        loop: list[object] = [1]
        loop.append(loop)
        with pytest.raises(RecursionError):
            recursive_repr(loop)

    def test_extract_metadata_warns_and_returns_empty(self) -> None:
        loop: list[object] = [1]
        loop.append(loop)

        class Holder:
            def __init__(self) -> None:
                self.loop = loop

        with pytest.warns(exceptions.RecursionWarning):
            assert extract_metadata(Holder()) == {}

    def test_extract_metadata_dict(self) -> None:
        class Actor:
            def __init__(self) -> None:
                self.lr = 0.1
                self._name = 'hidden'

        assert extract_metadata(Actor()) == {'class': 'Actor', 'lr': 0.1}
        assert extract_metadata(Chain(5), max_depth=1) == {
            'class': 'Chain',
            'n': 5,
            'next': 'Chain',
        }

    def test_extract_metadata_always_a_dict(self) -> None:
        assert extract_metadata(Empty()) == {'class': 'Empty'}
        assert extract_metadata(WithRepr()) == {
            'class': 'WithRepr',
            'repr': 'WithRepr(custom)',
        }
