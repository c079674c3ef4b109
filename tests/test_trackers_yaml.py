"""Tests of drytorch.trackers.yaml: metadata of the run as YAML files.

Besides the files: names never lead outside par_dir, and every value is
written so that ``yaml.safe_load`` reads it back.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from typing import Any

import numpy as np
import pytest
import yaml
from torch import nn

from drytorch.core import events, exceptions
from drytorch.trackers import yaml as yaml_tracker
from drytorch.trackers.yaml import (
    MAX_LENGTH_PLAIN_REPR,
    MAX_LENGTH_SHORT_REPR,
    TS_FMT,
    YamlDumper,
    dump_yaml,
    has_short_repr,
    load_yaml,
)
from drytorch.utils.repr_utils import LiteralStr, Omitted

RUN_TS = datetime.datetime(2026, 11, 27, 12, 8, 16)
MODEL_TS = datetime.datetime(2026, 11, 27, 12, 8, 17)
ACTOR_TS = datetime.datetime(2026, 11, 27, 12, 8, 20)
RUN_ID = '2026-11-27@12h08m16s'


@dataclasses.dataclass(frozen=True)
class Cfg:
    batch_size: int = 4
    lr: float = 0.01
    n_epochs: int = 2


def start(
    par_dir: pathlib.Path,
    config: Any = None,
    run_id: str = RUN_ID,
    run_ts: datetime.datetime = RUN_TS,
    resumed: bool = False,
) -> events.StartRunEvent:
    return events.StartRunEvent(
        config=Cfg() if config is None else config,
        exp_name='TinyExp',
        run_ts=run_ts,
        run_id=run_id,
        resumed=resumed,
        par_dir=par_dir,
    )


def model_event(name: str = 'Lin') -> events.ModelRegistrationEvent:
    return events.ModelRegistrationEvent(
        model_name=name,
        model_ts=MODEL_TS,
        architecture_repr=LiteralStr(repr(nn.Linear(3, 1))),
    )


def actor_event(
    metadata: dict[str, Any], actor: str = 'Trainer', model: str = 'Lin'
) -> events.ActorRegistrationEvent:
    return events.ActorRegistrationEvent(
        actor_name=actor,
        actor_ts=ACTOR_TS,
        model_name=model,
        model_ts=MODEL_TS,
        metadata=metadata,
    )


def run_dir(par_dir: pathlib.Path) -> pathlib.Path:
    return par_dir / 'metadata' / 'TinyExp' / '2026-11-27' / '12h08m16s'


def all_files(root: pathlib.Path) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in root.rglob('*') if p.is_file()
    )


# ---------------------------------------------------------------- layout


class TestLayout:
    def test_files_and_names(self, tmp_path: pathlib.Path) -> None:
        dumper = YamlDumper()
        dumper.notify(start(tmp_path))
        dumper.notify(model_event())
        dumper.notify(actor_event({'class': 'Trainer'}))
        model_dir = 'Lin_2026-11-27@12h08m17s'
        assert all_files(run_dir(tmp_path)) == [
            f'{model_dir}/Trainer_2026-11-27@12h08m20s.yaml',
            f'{model_dir}/architecture.yaml',
            'config_2026-11-27@12h08m16s.yaml',
        ]
        assert TS_FMT == '%Y-%m-%d@%Hh%Mm%Ss'

    def test_config_content(self, tmp_path: pathlib.Path) -> None:
        dumper = YamlDumper()
        dumper.notify(start(tmp_path))
        path = run_dir(tmp_path) / 'config_2026-11-27@12h08m16s.yaml'
        assert path.read_text() == (
            'batch_size: 4\nclass: Cfg\nlr: 0.01\nn_epochs: 2\n'
        )

    def test_config_uses_deep_depth(self, tmp_path: pathlib.Path) -> None:
        @dataclasses.dataclass
        class Node:
            child: Any = None
            level: int = 0

        config: Any = None
        for level in range(15):
            config = Node(config, level)
        YamlDumper().notify(start(tmp_path, config=config))
        loaded = load_yaml(next(run_dir(tmp_path).glob('config_*.yaml')))
        depth = 0
        while isinstance(loaded, dict):
            depth += 1
            loaded = loaded.get('child')
        assert depth == 15  # not cut at MAX_DEPTH = 10

    def test_architecture_literal_block(self, tmp_path: pathlib.Path) -> None:
        dumper = YamlDumper()
        dumper.notify(start(tmp_path))
        dumper.notify(model_event())
        path = next(run_dir(tmp_path).rglob('architecture.yaml'))
        assert path.read_text() == (
            '|-\n  Linear(in_features=3, out_features=1, bias=True)\n'
        )
        assert yaml.safe_load(path.read_text()) == repr(nn.Linear(3, 1))

    def test_own_par_dir(self, tmp_path: pathlib.Path) -> None:
        dumper = YamlDumper(par_dir=tmp_path / 'mine')
        dumper.notify(start(tmp_path / 'experiment'))
        assert (run_dir(tmp_path / 'mine')).is_dir()

    def test_run_id_without_timestamp(self, tmp_path: pathlib.Path) -> None:
        dumper = YamlDumper()
        dumper.notify(start(tmp_path, run_id='baseline'))
        folder = tmp_path / 'metadata' / 'TinyExp' / 'baseline'
        assert (folder / 'config_2026-11-27@12h08m16s.yaml').is_file()

    def test_resumed_run_writes_again(self, tmp_path: pathlib.Path) -> None:
        dumper = YamlDumper()
        dumper.notify(start(tmp_path))
        dumper.notify(events.StopRunEvent('TinyExp', RUN_ID))
        later = RUN_TS + datetime.timedelta(hours=1)
        dumper.notify(start(tmp_path, run_ts=later, resumed=True))
        configs = sorted(p.name for p in run_dir(tmp_path).glob('config_*'))
        assert configs == [
            'config_2026-11-27@12h08m16s.yaml',
            'config_2026-11-27@13h08m16s.yaml',
        ]

    def test_outside_a_run(self) -> None:
        with pytest.raises(exceptions.AccessOutsideScopeError):
            YamlDumper().notify(model_event())

    def test_no_temp_files_left(self, tmp_path: pathlib.Path) -> None:
        dumper = YamlDumper()
        dumper.notify(start(tmp_path))
        for _ in range(3):
            dumper.notify(model_event())
            dumper.notify(actor_event({'a': 1}))
        leftovers = [p for p in tmp_path.rglob('*') if p.name.endswith('.tmp')]
        assert leftovers == []

    @pytest.mark.parametrize(
        'bad_name', ['../../escaped', 'a/b', '..\\x', 'a\x00b']
    )
    def test_names_leading_outside_par_dir_are_rejected(
        self, tmp_path: pathlib.Path, bad_name: str
    ) -> None:
        # joined as they are, such model or actor names would put YAML
        # files above par_dir
        par_dir = tmp_path / 'sandbox' / 'inner'
        dumper = YamlDumper()
        dumper.notify(start(par_dir))
        with pytest.raises(exceptions.InvalidNameError):
            dumper.notify(model_event(bad_name))
        with pytest.raises(exceptions.InvalidNameError):
            dumper.notify(actor_event({'a': 1}, actor=bad_name))
        with pytest.raises(exceptions.InvalidNameError):
            dumper.notify(actor_event({'a': 1}, model=bad_name))
        outside = [
            p
            for p in tmp_path.rglob('*')
            if p.is_file() and not p.is_relative_to(par_dir)
        ]
        assert outside == []

    def test_recursive_config_warns(self, tmp_path: pathlib.Path) -> None:
        loop: list[Any] = []
        loop.append(loop)
        with pytest.warns(exceptions.RecursionWarning):
            YamlDumper().notify(start(tmp_path, config=loop))
        path = next(run_dir(tmp_path).glob('config_*.yaml'))
        assert yaml.safe_load(path.read_text()) == {}


# --------------------------------------------------- safe round trips


class TestSafeRoundTrip:
    def test_complex_number_in_config(self, tmp_path: pathlib.Path) -> None:
        # dumped as a Python object, a complex becomes !!python/complex,
        # which yaml.safe_load rejects
        @dataclasses.dataclass
        class ComplexCfg:
            z: complex = 1 + 2j
            name: str = 'run'

        YamlDumper().notify(start(tmp_path, config=ComplexCfg()))
        path = next(run_dir(tmp_path).glob('config_*.yaml'))
        text = path.read_text()
        assert '!!python' not in text
        assert yaml.safe_load(text) == {
            'class': 'ComplexCfg',
            'name': 'run',
            'z': '(1+2j)',
        }

    def test_arbitrary_objects_become_text(self) -> None:
        class Opaque:
            def __repr__(self) -> str:
                return 'Opaque()'

        data = {
            'obj': Opaque(),
            'path': pathlib.PurePosixPath('a/b'),
            'np_float': np.float64(0.5),
            'np_int': np.int64(3),
            'np_bool': np.bool_(True),
            'tuple': (1, 2),
        }
        loaded = yaml.safe_load(dump_yaml(data))
        assert loaded == {
            'obj': 'Opaque()',
            'path': "PurePosixPath('a/b')",
            'np_float': 0.5,
            'np_int': 3,
            'np_bool': True,
            'tuple': [1, 2],
        }

    def test_actor_metadata_round_trip(self, tmp_path: pathlib.Path) -> None:
        metadata = {
            'class': 'Trainer',
            'learning_schema': {
                'class': 'LearningSchema',
                'optimizer_cls': 'Adam',
                'optimizer_defaults': {'betas': (0.9, 0.999)},
            },
            'array': LiteralStr('Array of size (2,)\n[1. 2.]'),
            'values': [0, 1, 2, 3, 4, Omitted(30), 35, 36, 37, 38, 39],
            'empty': None,
            'flag': False,
        }
        dumper = YamlDumper()
        dumper.notify(start(tmp_path))
        dumper.notify(actor_event(metadata))
        path = next(run_dir(tmp_path).rglob('Trainer_*.yaml'))
        text = path.read_text()
        assert '!Omitted {omitted_elements: 30}' in text
        assert 'array: |-\n' in text
        loaded = load_yaml(path)
        expected = dict(metadata)
        expected['learning_schema'] = {
            'class': 'LearningSchema',
            'optimizer_cls': 'Adam',
            'optimizer_defaults': {'betas': [0.9, 0.999]},
        }
        assert loaded == expected
        assert isinstance(loaded['values'][5], Omitted)

    def test_keys_sorted(self) -> None:
        text = dump_yaml({'zeta': 1, 'alpha': 2, 'class': 'X'})
        assert text == 'alpha: 2\nclass: X\nzeta: 1\n'

    def test_no_aliases(self) -> None:
        shared = {'a': [1, 2]}
        text = dump_yaml({'x': shared, 'y': shared})
        assert '&' not in text
        assert '*' not in text

    def test_load_yaml_is_safe(self, tmp_path: pathlib.Path) -> None:
        path = tmp_path / 'evil.yaml'
        path.write_text('!!python/object/apply:os.system ["echo hi"]\n')
        with pytest.raises(yaml.constructor.ConstructorError):
            load_yaml(path)


# ---------------------------------------------------------- representers


class TestRepresenters:
    def test_pyyaml_global_state_untouched(self) -> None:
        for dumper_cls in (yaml.Dumper, yaml.SafeDumper):
            assert LiteralStr not in dumper_cls.yaml_representers
            assert Omitted not in dumper_cls.yaml_representers
        with pytest.raises(yaml.representer.RepresenterError):
            yaml.safe_dump(Omitted(1))
        # Plain lists still dump in PyYAML's own default style.
        assert yaml.safe_dump([1, 2], default_flow_style=False) == (
            '- 1\n- 2\n'
        )

    def test_has_short_repr(self) -> None:
        assert MAX_LENGTH_SHORT_REPR == 10
        assert has_short_repr('a' * 10)
        assert not has_short_repr('a' * 11)
        assert has_short_repr('a' * 11, max_length=11)
        assert not has_short_repr(LiteralStr('a'))
        assert has_short_repr(3.5)
        assert has_short_repr(None)
        assert has_short_repr(Omitted(3))
        assert not has_short_repr([1])
        assert not has_short_repr({'a': 1})

    def test_sequence_styles(self) -> None:
        assert MAX_LENGTH_PLAIN_REPR == 30
        assert dump_yaml({'s': [1, 2, 3]}) == 's: [1, 2, 3]\n'
        assert dump_yaml({'s': (0.9, 0.999)}) == 's: [0.9, 0.999]\n'
        assert dump_yaml({'s': {3, 1, 2}}) == 's: [1, 2, 3]\n'
        assert dump_yaml({'s': []}) == 's: []\n'
        long_sequence = dump_yaml({'s': list(range(31))})
        assert long_sequence.startswith('s:\n- 0\n- 1\n')
        long_strings = dump_yaml({'s': ['a' * 11, 'b']})
        assert long_strings == 's:\n- aaaaaaaaaaa\n- b\n'
        nested = dump_yaml({'s': [[1], [2]]})
        assert nested == 's:\n- [1]\n- [2]\n'

    def test_represent_sequence_threshold(self) -> None:
        dumper = yaml_tracker._MetadataDumper(None)  # type: ignore[arg-type]
        node = yaml_tracker.represent_sequence(
            dumper, [1, 2, 3], max_length_for_plain=2
        )
        assert node.flow_style is False
        node = yaml_tracker.represent_sequence(dumper, [1, 2, 3])
        assert node.flow_style is True

    def test_literal_and_omitted_nodes(self) -> None:
        dumper = yaml_tracker._MetadataDumper(None)  # type: ignore[arg-type]
        node = yaml_tracker.represent_literal_str(dumper, LiteralStr('a\nb'))
        assert node.style == '|'
        omitted = yaml_tracker.represent_omitted(dumper, Omitted(4))
        assert omitted.tag == '!Omitted'
        assert dump_yaml(Omitted(4)) == '!Omitted {omitted_elements: 4}\n'
        assert load_yaml_text('!Omitted {omitted_elements: .nan}\n') == (
            Omitted()
        )


def load_yaml_text(text: str) -> Any:
    return yaml.load(text, Loader=yaml_tracker._MetadataLoader)
