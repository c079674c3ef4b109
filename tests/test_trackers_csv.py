"""Tests of drytorch.trackers.csv: metric histories in CSV files.

Besides the round trip of the metrics: names never lead outside par_dir and
are written as data (never part of a format string), and a failing dumper
is detached from that run only.
"""

from __future__ import annotations

import csv
import datetime
import math
import pathlib
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest
from conftest import RecordingTracker
from tiny_training import (
    Cfg,
    assert_history_is_logged,
    logged_mse,
    tiny_trainer,
    train_then_resume,
)

from drytorch.core import events, exceptions
from drytorch.core.experiment import Experiment
from drytorch.trackers.base_classes import MemoryMetrics
from drytorch.trackers.csv import CSVDumper, DryTorchDialect, resolve_history

RUN_TS = datetime.datetime(2026, 11, 27, 12, 8, 16)
RUN_ID = '2026-11-27@12h08m16s'
EXP = 'TinyExp'


def start(
    par_dir: pathlib.Path, run_id: str = RUN_ID, resumed: bool = False
) -> events.StartRunEvent:
    return events.StartRunEvent(
        config=None,
        exp_name=EXP,
        run_ts=RUN_TS,
        run_id=run_id,
        resumed=resumed,
        par_dir=par_dir,
    )


def stop(run_id: str = RUN_ID) -> events.StopRunEvent:
    return events.StopRunEvent(exp_name=EXP, run_id=run_id)


def metric(
    epoch: int,
    source: str = 'Trainer',
    model: str = 'Lin',
    **values: float,
) -> events.MetricEvent:
    return events.MetricEvent(
        model_name=model,
        source_name=source,
        epoch=epoch,
        metrics=values or {'MSE': epoch / 10},
    )


def csv_file(
    par_dir: pathlib.Path, source: str = 'Trainer', model: str = 'Lin'
) -> pathlib.Path:
    run_dir = par_dir / 'csv_metrics' / EXP / '2026-11-27' / '12h08m16s'
    return run_dir / model / f'{source}.csv'


@pytest.fixture
def new_dumper() -> Iterator[Callable[..., CSVDumper]]:
    """Make dumpers that are cleaned up even when a test fails."""
    made: list[CSVDumper] = []

    def make(*args: object, **kwargs: object) -> CSVDumper:
        made.append(CSVDumper(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for tracker in made:
        tracker.clean_up()


@pytest.fixture
def dumper(
    tmp_path: pathlib.Path, new_dumper: Callable[..., CSVDumper]
) -> CSVDumper:
    tracker = new_dumper()
    tracker.notify(start(tmp_path))
    return tracker


# ---------------------------------------------------------------- layout


def test_layout_and_content_match_the_reference(
    tmp_path: pathlib.Path, dumper: CSVDumper
) -> None:
    dumper.notify(metric(1, MSE=1.9946725368499756))
    dumper.notify(metric(2, MSE=2.448269844055176))
    dumper.notify(metric(2, source='Test', MSE=0.5))
    path = csv_file(tmp_path)
    assert path.read_bytes() == (
        b'"Model","Source","Epoch","MSE"\r\n'
        b'"Lin","Trainer",1,1.9946725368499756\r\n'
        b'"Lin","Trainer",2,2.448269844055176\r\n'
    )
    assert csv_file(tmp_path, 'Test').is_file()


def test_rows_reach_the_file_at_once(
    tmp_path: pathlib.Path, dumper: CSVDumper
) -> None:
    dumper.notify(metric(1))
    # read by another reader while the dumper keeps the file open
    assert csv_file(tmp_path).read_bytes().endswith(b'1,0.1\r\n')


def test_header_in_event_order(
    tmp_path: pathlib.Path, dumper: CSVDumper
) -> None:
    dumper.notify(metric(1, Loss=1.0, Acc=0.5))
    dumper.notify(metric(2, Acc=0.75, Loss=0.5))  # same names, other order
    lines = csv_file(tmp_path).read_text().splitlines()
    assert lines == [
        '"Model","Source","Epoch","Loss","Acc"',
        '"Lin","Trainer",1,1.0,0.5',
        '"Lin","Trainer",2,0.5,0.75',
    ]


def test_own_par_dir_and_plain_run_id(
    tmp_path: pathlib.Path, new_dumper: Callable[..., CSVDumper]
) -> None:
    tracker = new_dumper(par_dir=tmp_path / 'mine')
    tracker.notify(start(tmp_path / 'exp', run_id='baseline'))
    tracker.notify(metric(1))
    tracker.notify(stop('baseline'))
    expected = tmp_path / 'mine' / 'csv_metrics' / EXP / 'baseline' / 'Lin'
    assert (expected / 'Trainer.csv').is_file()
    assert not (tmp_path / 'exp' / 'csv_metrics').exists()


def test_dialect() -> None:
    dialect = DryTorchDialect()
    assert dialect.delimiter == ','
    assert dialect.quotechar == '"'
    assert dialect.doublequote
    assert dialect.lineterminator == '\r\n'
    assert dialect.quoting == csv.QUOTE_NONNUMERIC


def test_names_escaping_the_run_folder_are_refused(dumper: CSVDumper) -> None:
    with pytest.raises(exceptions.InvalidNameError):
        dumper.notify(metric(1, model='..'))
    with pytest.raises(exceptions.InvalidNameError):
        dumper.notify(metric(1, source='a/b'))


# ------------------------------------------------------------- reading


def test_read_csv_and_load_metrics(dumper: CSVDumper) -> None:
    for epoch in (1, 2, 3):
        dumper.notify(metric(epoch, Loss=epoch * 1.0, Acc=epoch / 4))
        dumper.notify(metric(epoch, source='Validation', Loss=-epoch * 1.0))
    assert dumper.read_csv('Lin', 'Trainer') == (
        [1, 2, 3],
        {'Loss': [1.0, 2.0, 3.0], 'Acc': [0.25, 0.5, 0.75]},
    )
    assert dumper.read_csv('Lin', 'Trainer', max_epoch=2) == (
        [1, 2],
        {'Loss': [1.0, 2.0], 'Acc': [0.25, 0.5]},
    )
    loaded = dumper.load_metrics('Lin')
    assert set(loaded) == {'Trainer', 'Validation'}
    assert loaded['Validation'] == ([1, 2, 3], {'Loss': [-1.0, -2.0, -3.0]})
    assert dumper.load_metrics('Lin', max_epoch=0) == {}
    assert dumper.load_metrics('Other') == {}
    with pytest.raises(ValueError, match='max_epoch'):
        dumper.load_metrics('Lin', max_epoch=-2)


def test_special_values_round_trip(dumper: CSVDumper) -> None:
    dumper.notify(metric(1, a=math.nan, b=math.inf, c=-0.0, d=1e-300))
    _, logs = dumper.read_csv('Lin', 'Trainer')
    assert math.isnan(logs['a'][0])
    assert logs['b'] == [math.inf]
    assert logs['d'] == [1e-300]


def test_names_with_commas_quotes_and_parentheses_round_trip(
    tmp_path: pathlib.Path, dumper: CSVDumper
) -> None:
    """Names are data, never part of a format string."""
    names = ['Top-1 (%), "q"', 'a)b', '%(x)s', 'line\nbreak', 'ünï,;']
    dumper.notify(metric(1, **{n: float(i) for i, n in enumerate(names)}))
    dumper.notify(metric(2, **{n: i + 0.5 for i, n in enumerate(names)}))
    epochs, logs = dumper.read_csv('Lin', 'Trainer')
    assert epochs == [1, 2]
    assert list(logs) == names
    assert logs['a)b'] == [1.0, 1.5]
    text = csv_file(tmp_path).read_text(encoding='utf-8')
    assert '"Top-1 (%), ""q"""' in text
    # any CSV reader gets the names back
    with csv_file(tmp_path).open(newline='', encoding='utf-8') as stream:
        header = next(csv.reader(stream))
    assert header == ['Model', 'Source', 'Epoch', *names]


def test_read_outside_a_run(
    tmp_path: pathlib.Path, new_dumper: Callable[..., CSVDumper]
) -> None:
    tracker = new_dumper()
    with pytest.raises(exceptions.AccessOutsideScopeError):
        tracker.read_csv('Lin', 'Trainer')
    tracker.notify(start(tmp_path))
    tracker.notify(metric(1))
    tracker.notify(stop())
    with pytest.raises(exceptions.AccessOutsideScopeError):
        tracker.load_metrics('Lin')


def test_resolve_history_keeps_the_last_rows_written() -> None:
    rows = [(1, {'a': 1.0}), (2, {'a': 2.0}), (3, {'a': 3.0})]
    rows += [(4, {'a': 4.0}), (3, {'a': 30.0}), (4, {'a': 40.0})]
    rows += [(5, {'a': 50.0})]
    assert resolve_history(rows) == (
        [1, 2, 3, 4, 5],
        {'a': [1.0, 2.0, 30.0, 40.0, 50.0]},
    )
    # rewinding further drops what came after the rewound epoch
    assert resolve_history([*rows, (2, {'a': 20.0})]) == (
        [1, 2],
        {'a': [1.0, 20.0]},
    )
    assert resolve_history(rows, max_epoch=3) == ([1, 2, 3], {'a': [1, 2, 30]})
    # a metric missing at an epoch is NaN there
    epochs, logs = resolve_history([(1, {'a': 1.0}), (2, {'b': 2.0})])
    assert epochs == [1, 2]
    assert math.isnan(logs['a'][1])
    assert math.isnan(logs['b'][0])


# -------------------------------------------------------------- resume


def test_resumed_run_appends_to_the_same_file(
    tmp_path: pathlib.Path, new_dumper: Callable[..., CSVDumper]
) -> None:
    tracker = new_dumper()
    tracker.notify(start(tmp_path))
    tracker.notify(metric(1))
    tracker.notify(metric(2))
    tracker.notify(stop())
    tracker = new_dumper()  # as in a new process
    tracker.notify(start(tmp_path, resumed=True))
    tracker.notify(metric(3))
    lines = csv_file(tmp_path).read_text().splitlines()
    assert lines[0] == '"Model","Source","Epoch","MSE"'
    assert [line.split(',')[2] for line in lines[1:]] == ['1', '2', '3']
    assert tracker.read_csv('Lin', 'Trainer') == (
        [1, 2, 3],
        {'MSE': [0.1, 0.2, 0.3]},
    )
    tracker.notify(stop())


def test_new_run_with_the_same_id_starts_a_new_file(
    tmp_path: pathlib.Path,
    new_dumper: Callable[..., CSVDumper],
) -> None:
    tracker = new_dumper()
    tracker.notify(start(tmp_path))
    tracker.notify(metric(1))
    tracker.notify(stop())
    tracker.notify(start(tmp_path, resumed=False))
    tracker.notify(metric(1, Acc=0.5))
    assert tracker.read_csv('Lin', 'Trainer') == ([1], {'Acc': [0.5]})
    tracker.notify(stop())


def test_header_mismatch_on_resume(
    tmp_path: pathlib.Path, new_dumper: Callable[..., CSVDumper]
) -> None:
    tracker = new_dumper()
    tracker.notify(start(tmp_path))
    tracker.notify(metric(1, Loss=1.0))
    tracker.notify(stop())
    before = csv_file(tmp_path).read_bytes()
    tracker.notify(start(tmp_path, resumed=True))
    with pytest.raises(exceptions.TrackerError) as info:
        tracker.notify(metric(2, Loss=1.0, Acc=0.5))
    message = str(info.value)
    assert "expected ['Model', 'Source', 'Epoch', 'Loss']" in message
    assert "received ['Model', 'Source', 'Epoch', 'Loss', 'Acc']" in message
    assert str(csv_file(tmp_path)) in message
    assert csv_file(tmp_path).read_bytes() == before
    tracker.clean_up()


def test_metrics_changing_within_a_run(dumper: CSVDumper) -> None:
    dumper.notify(metric(1, Loss=1.0))
    with pytest.raises(exceptions.TrackerError, match='Acc'):
        dumper.notify(metric(2, Acc=1.0))


def test_a_file_that_is_not_a_metric_file_is_not_overwritten(
    tmp_path: pathlib.Path,
    new_dumper: Callable[..., CSVDumper],
) -> None:
    path = csv_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'"precious","data"\r\n1,2\r\n')
    tracker = new_dumper()
    tracker.notify(start(tmp_path, resumed=True))
    with pytest.raises(exceptions.TrackerError, match='precious'):
        tracker.notify(metric(1))
    assert path.read_bytes() == b'"precious","data"\r\n1,2\r\n'
    tracker.clean_up()


# --------------------------------------------------------- crash safety


def test_partial_last_line_is_ignored_then_cut(
    tmp_path: pathlib.Path, new_dumper: Callable[..., CSVDumper]
) -> None:
    tracker = new_dumper()
    tracker.notify(start(tmp_path))
    tracker.notify(metric(1))
    tracker.notify(metric(2))
    tracker.notify(stop())
    path = csv_file(tmp_path)
    complete = path.read_bytes()
    with path.open('ab') as stream:  # a row torn by a crash
        stream.write(b'"Lin","Trainer",3,0.33')
    tracker = new_dumper()
    tracker.notify(start(tmp_path, resumed=True))
    assert tracker.read_csv('Lin', 'Trainer')[0] == [1, 2]
    tracker.notify(metric(3, MSE=0.3))
    assert path.read_bytes() == complete + b'"Lin","Trainer",3,0.3\r\n'
    assert tracker.read_csv('Lin', 'Trainer') == (
        [1, 2, 3],
        {'MSE': [0.1, 0.2, 0.3]},
    )
    tracker.notify(stop())


@pytest.mark.parametrize(
    'tail', [b'"Lin","Trai', b'"Lin","Trainer",3,0.3\r', b'"']
)
def test_torn_rows_of_any_length(
    tmp_path: pathlib.Path, tail: bytes, new_dumper: Callable[..., CSVDumper]
) -> None:
    tracker = new_dumper()
    tracker.notify(start(tmp_path))
    tracker.notify(metric(1))
    tracker.notify(stop())
    path = csv_file(tmp_path)
    complete = path.read_bytes()
    path.write_bytes(complete + tail)
    tracker.notify(start(tmp_path, resumed=True))
    tracker.notify(metric(2))
    assert path.read_bytes() == complete + b'"Lin","Trainer",2,0.2\r\n'
    tracker.notify(stop())


def test_torn_header_is_written_again(
    tmp_path: pathlib.Path, new_dumper: Callable[..., CSVDumper]
) -> None:
    path = csv_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'"Model","Sou')
    tracker = new_dumper()
    tracker.notify(start(tmp_path, resumed=True))
    tracker.notify(metric(1))
    assert tracker.read_csv('Lin', 'Trainer') == ([1], {'MSE': [0.1]})
    tracker.notify(stop())


def test_rows_survive_a_process_killed_without_clean_up(
    tmp_path: pathlib.Path,
    new_dumper: Callable[..., CSVDumper],
) -> None:
    script = textwrap.dedent(
        f"""
        import datetime, os, pathlib
        from drytorch.core import events
        from drytorch.trackers.csv import CSVDumper

        tracker = CSVDumper()
        tracker.notify(events.StartRunEvent(
            config=None, exp_name={EXP!r}, run_ts=datetime.datetime.now(),
            run_id={RUN_ID!r}, par_dir=pathlib.Path({str(tmp_path)!r})))
        for epoch in (1, 2, 3):
            tracker.notify(events.MetricEvent(
                'Lin', 'Trainer', epoch, {{'MSE': epoch / 10}}))
        os._exit(17)  # no clean-up, no close, no flush at exit
        """
    )
    root = pathlib.Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, '-c', script],
        cwd=root,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 17, result.stderr
    tracker = new_dumper()
    tracker.notify(start(tmp_path, resumed=True))
    tracker.notify(metric(4))
    assert tracker.read_csv('Lin', 'Trainer') == (
        [1, 2, 3, 4],
        {'MSE': [0.1, 0.2, 0.3, 0.4]},
    )
    tracker.notify(stop())


# -------------------------------------------------------- end to end


def test_end_to_end_resume_appends_a_contiguous_history(
    tmp_path: pathlib.Path,
    recorder: RecordingTracker,
    new_dumper: Callable[..., CSVDumper],
) -> None:
    exp = Experiment(Cfg(), name=EXP, par_dir=tmp_path)
    dumper = new_dumper()
    exp.trackers.subscribe(dumper, recorder)
    history = train_then_resume(exp, dumper)
    folder = tmp_path / 'csv_metrics' / EXP / 'r1' / 'Lin'
    assert sorted(p.name for p in folder.iterdir()) == [
        'Trainer.csv',
        'Validation.csv',
    ]
    for source in ('Trainer', 'Validation'):
        lines = (folder / f'{source}.csv').read_text().splitlines()
        assert sum(line.startswith('"Model"') for line in lines) == 1
        assert len(lines) == 5
    assert_history_is_logged(history, recorder)


def test_end_to_end_resume_from_an_earlier_checkpoint(
    tmp_path: pathlib.Path,
    recorder: RecordingTracker,
    new_dumper: Callable[..., CSVDumper],
) -> None:
    exp = Experiment(Cfg(), name=EXP, par_dir=tmp_path)
    dumper = new_dumper()
    exp.trackers.subscribe(dumper, recorder)
    with exp.create_run(run_id='r1'):
        trainer = tiny_trainer()
        trainer.train(2)
        trainer.save_checkpoint()
        trainer.train(2)  # epochs 3 and 4, never saved
    memory = MemoryMetrics(metric_loader=dumper)
    exp.trackers.subscribe(memory)
    with exp.create_run(resume=True):
        trainer = tiny_trainer()
        trainer.load_checkpoint(2)
        # the memory tracker reloaded the history up to the checkpoint
        assert memory.model_dict['Lin']['Trainer'][0] == [1, 2]
        trainer.train(2)  # epochs 3 and 4 again
        epochs, logs = dumper.read_csv('Lin', 'Trainer')
    logged = logged_mse(recorder, 'Trainer')
    assert [epoch for epoch, _ in logged] == [1, 2, 3, 4, 3, 4]
    assert epochs == [1, 2, 3, 4]
    assert logs['MSE'] == [value for _, value in logged[:2] + logged[4:]]
    assert memory.model_dict['Lin']['Trainer'] == (epochs, logs)


def test_a_failing_dumper_is_detached_from_that_run_only(
    tmp_path: pathlib.Path,
    recorder: RecordingTracker,
    new_dumper: Callable[..., CSVDumper],
) -> None:
    """The run goes on without it; the next run uses the dumper again."""
    blocker = tmp_path / 'csv_metrics'
    blocker.write_text('a file where the folder should be')
    exp = Experiment(Cfg(), name=EXP, par_dir=tmp_path)
    dumper = new_dumper()
    exp.trackers.subscribe(dumper, recorder)
    with exp.create_run(run_id='r1'):
        trainer = tiny_trainer()
        with pytest.warns(exceptions.TrackerExceptionWarning, match='CSV'):
            trainer.train(2)
    assert len(logged_mse(recorder, 'Trainer')) == 2  # the training went on
    assert 'CSVDumper' in exp.trackers.named_trackers
    blocker.unlink()
    with exp.create_run(run_id='r2'):
        tiny_trainer().train(1)
        assert dumper.read_csv('Lin', 'Trainer')[0] == [1]
    assert (tmp_path / 'csv_metrics' / EXP / 'r2' / 'Lin').is_dir()
