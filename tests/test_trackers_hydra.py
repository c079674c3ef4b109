"""Tests of drytorch.trackers.hydra: links to Hydra's output folder.

Besides the links and copies: a relative ``hydra_dir`` still gives a link
that resolves, and a failing tracker is detached from that run only.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip('hydra', reason='needs the hydra extra')

from conftest import Config

from drytorch.core import events, exceptions
from drytorch.core.experiment import Experiment
from drytorch.trackers.hydra import HydraLink

RUN_ID = '2026-11-27@12h08m16s'
REPO = pathlib.Path(__file__).resolve().parents[1]


def start(
    par_dir: pathlib.Path, resumed: bool = False, exp_name: str = 'Exp'
) -> events.StartRunEvent:
    return events.StartRunEvent(
        config=Config(),
        exp_name=exp_name,
        run_ts=datetime.datetime(2026, 11, 27, 12, 8, 16),
        run_id=RUN_ID,
        resumed=resumed,
        par_dir=par_dir,
    )


def stop() -> events.StopRunEvent:
    return events.StopRunEvent(exp_name='Exp', run_id=RUN_ID)


def link_path(par_dir: pathlib.Path, exp: str = 'Exp') -> pathlib.Path:
    return par_dir / 'hydra' / exp / '2026-11-27' / '12h08m16s'


def fake_hydra_output(folder: pathlib.Path, text: str = 'lr: 0.1\n') -> None:
    (folder / '.hydra').mkdir(parents=True)
    (folder / '.hydra' / 'config.yaml').write_text(text)
    (folder / 'main.log').write_text('log\n')


def files_below(folder: pathlib.Path) -> list[str]:
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob('*') if p.is_file()
    )


# -------------------------------------------------------- link and copy


def test_link_during_the_run_copy_afterwards(tmp_path: pathlib.Path) -> None:
    hydra_out = tmp_path / 'outputs'
    fake_hydra_output(hydra_out)
    tracker = HydraLink(hydra_dir=hydra_out)
    tracker.notify(start(tmp_path / 'par'))
    link = link_path(tmp_path / 'par')
    assert tracker.link == link
    assert link.is_symlink()
    assert pathlib.Path(os.readlink(link)) == hydra_out
    assert (link / '.hydra' / 'config.yaml').read_text() == 'lr: 0.1\n'
    tracker.notify(stop())
    assert not link.is_symlink()
    assert link.is_dir()
    assert files_below(link) == ['.hydra/config.yaml', 'main.log']
    assert sorted(p.name for p in link.parent.iterdir()) == ['12h08m16s']
    assert files_below(hydra_out) == ['.hydra/config.yaml', 'main.log']
    with pytest.raises(exceptions.AccessOutsideScopeError):
        _ = tracker.link


def test_without_copy_the_link_stays(tmp_path: pathlib.Path) -> None:
    hydra_out = tmp_path / 'outputs'
    fake_hydra_output(hydra_out)
    tracker = HydraLink(copy_hydra=False, hydra_dir=hydra_out)
    tracker.notify(start(tmp_path))
    tracker.notify(stop())
    link = link_path(tmp_path)
    assert link.is_symlink()
    assert link.resolve() == hydra_out.resolve()


def test_relative_hydra_dir_gives_a_working_link(
    tmp_path: pathlib.Path,
) -> None:
    # a link to the relative path as given would resolve against the
    # link's own folder, not the working directory: a dangling link
    fake_hydra_output(tmp_path / 'rel_out')  # the working directory
    tracker = HydraLink(copy_hydra=False, hydra_dir='rel_out')
    tracker.notify(start(tmp_path / 'deep' / 'par'))
    link = link_path(tmp_path / 'deep' / 'par')
    target = pathlib.Path(os.readlink(link))
    assert target.is_absolute()
    assert target == tmp_path / 'rel_out'
    assert link.exists()
    assert (link / '.hydra' / 'config.yaml').read_text() == 'lr: 0.1\n'
    tracker.notify(stop())


def test_relative_hydra_dir_is_resolved_when_the_tracker_is_created(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_hydra_output(tmp_path / 'rel_out')
    tracker = HydraLink(hydra_dir='rel_out')
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert tracker.hydra_dir == tmp_path / 'rel_out'
    tracker.notify(start(tmp_path / 'par'))
    assert link_path(tmp_path / 'par').resolve() == tmp_path / 'rel_out'
    tracker.notify(stop())
    assert files_below(link_path(tmp_path / 'par')) == [
        '.hydra/config.yaml',
        'main.log',
    ]


def test_missing_hydra_dir_is_a_tracker_error(tmp_path: pathlib.Path) -> None:
    tracker = HydraLink(hydra_dir=tmp_path / 'missing')
    with pytest.raises(exceptions.TrackerError, match='does not exist'):
        tracker.notify(start(tmp_path))
    assert not (tmp_path / 'hydra').exists()


def test_without_hydra_job_or_dir_is_a_tracker_error(
    tmp_path: pathlib.Path,
) -> None:
    tracker = HydraLink()
    with pytest.raises(exceptions.TrackerError, match='hydra_dir'):
        tracker.notify(start(tmp_path))


def test_names_cannot_lead_outside_par_dir(tmp_path: pathlib.Path) -> None:
    fake_hydra_output(tmp_path / 'outputs')
    par_dir = tmp_path / 'par'
    tracker = HydraLink(hydra_dir=tmp_path / 'outputs')
    with pytest.raises(exceptions.InvalidNameError):
        tracker.notify(start(par_dir, exp_name='..'))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['outputs', 'par']
    assert list(par_dir.iterdir()) == []


# -------------------------------------------------------------- resume


def test_resume_keeps_the_earlier_copy_and_links_the_new_output(
    tmp_path: pathlib.Path,
) -> None:
    first, second = tmp_path / 'out1', tmp_path / 'out2'
    fake_hydra_output(first, 'session: 1\n')
    fake_hydra_output(second, 'session: 2\n')
    HydraLink(hydra_dir=first).notify(start(tmp_path))
    tracker = HydraLink(hydra_dir=first)
    tracker.notify(start(tmp_path))
    tracker.notify(stop())
    resumed = HydraLink(hydra_dir=second)
    resumed.notify(start(tmp_path, resumed=True))
    link = link_path(tmp_path)
    assert link.resolve() == second
    resumed.notify(stop())
    config = pathlib.Path('.hydra', 'config.yaml')
    assert (link / config).read_text() == 'session: 2\n'
    earlier = link.with_name('12h08m16s.1')
    assert (earlier / config).read_text() == 'session: 1\n'
    assert sorted(p.name for p in link.parent.iterdir()) == [
        '12h08m16s',
        '12h08m16s.1',
    ]


def test_a_file_in_place_of_the_link_is_a_tracker_error(
    tmp_path: pathlib.Path,
) -> None:
    fake_hydra_output(tmp_path / 'outputs')
    link = link_path(tmp_path)
    link.parent.mkdir(parents=True)
    link.write_text('not mine')
    tracker = HydraLink(hydra_dir=tmp_path / 'outputs')
    with pytest.raises(exceptions.TrackerError, match='not a folder'):
        tracker.notify(start(tmp_path))
    assert link.read_text() == 'not mine'


# ---------------------------------------------------------- atomic copy


def test_par_dir_inside_the_hydra_output_is_copied_once(
    tmp_path: pathlib.Path,
) -> None:
    hydra_out = tmp_path / 'outputs'
    fake_hydra_output(hydra_out)
    tracker = HydraLink(hydra_dir=hydra_out)
    tracker.notify(start(hydra_out))  # par_dir = Hydra's output folder
    tracker.notify(stop())
    link = link_path(hydra_out)
    assert link.is_dir()
    assert not link.is_symlink()
    assert files_below(link) == ['.hydra/config.yaml', 'main.log']


@pytest.mark.skipif(not hasattr(os, 'mkfifo'), reason='needs named pipes')
def test_failed_copy_leaves_the_link_and_no_partial_copy(
    tmp_path: pathlib.Path,
) -> None:
    hydra_out = tmp_path / 'outputs'
    fake_hydra_output(hydra_out)
    exp = Experiment(Config(), name='Exp', par_dir=tmp_path / 'par')
    exp.trackers.subscribe(HydraLink(hydra_dir=hydra_out))
    run = exp.create_run(run_id='run1').start()
    # the copy fails after copying the other entries: a pipe is not copied
    os.mkfifo(hydra_out / 'pipe')
    with pytest.warns(exceptions.TrackerExceptionWarning, match='HydraLink'):
        run.stop()
    assert run.status == 'completed'
    link = tmp_path / 'par' / 'hydra' / 'Exp' / 'run1'
    assert link.is_symlink()
    assert os.readlink(link) == str(hydra_out)
    assert [p.name for p in link.parent.iterdir()] == ['run1']


def test_link_replaced_during_the_run_is_reported(
    tmp_path: pathlib.Path,
) -> None:
    fake_hydra_output(tmp_path / 'outputs')
    tracker = HydraLink(hydra_dir=tmp_path / 'outputs')
    tracker.notify(start(tmp_path))
    link = link_path(tmp_path)
    link.unlink()
    link.mkdir()
    with pytest.raises(exceptions.TrackerError, match='removed or replaced'):
        tracker.notify(stop())
    tracker.clean_up()
    assert link.is_dir()
    assert list(link.iterdir()) == []


# ------------------------------------------- failing tracker end to end


def test_failing_tracker_is_detached_from_that_run_only(
    tmp_path: pathlib.Path,
) -> None:
    # the run goes on without it, and the next run uses it again (it is
    # not removed from the experiment for good)
    hydra_out = tmp_path / 'outputs'
    fake_hydra_output(hydra_out)
    blocker = tmp_path / 'par' / 'hydra'
    blocker.parent.mkdir()
    blocker.write_text('a file where the links go')
    exp = Experiment(Config(), name='Exp', par_dir=tmp_path / 'par')
    exp.trackers.subscribe(HydraLink(hydra_dir=hydra_out))
    with pytest.warns(exceptions.TrackerExceptionWarning, match='HydraLink'):
        run = exp.create_run(run_id='run1').start()
    run.stop()
    assert run.status == 'completed'
    assert blocker.read_text() == 'a file where the links go'

    blocker.unlink()
    with exp.create_run(run_id='run2'):
        assert (blocker / 'Exp' / 'run2').is_symlink()
    assert files_below(blocker / 'Exp' / 'run2') == [
        '.hydra/config.yaml',
        'main.log',
    ]


def test_missing_package_gives_an_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(sys.modules):
        if name == 'hydra' or name.startswith('hydra.'):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'hydra', None)
    monkeypatch.delitem(sys.modules, 'drytorch.trackers.hydra')
    with pytest.raises(ImportError) as info:
        importlib.import_module('drytorch.trackers.hydra')
    assert str(info.value) == (
        "Hydra tracker needs the 'hydra' extra: pip install 'drytorch[hydra]'"
    )
    assert info.value.name == 'hydra'


# ------------------------------------------------- a real @hydra.main app

APP = """
import json
import os
import pathlib
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from drytorch.core.experiment import Experiment
from drytorch.trackers.hydra import HydraLink


@hydra.main(version_base=None, config_path='.', config_name='config')
def main(cfg: DictConfig) -> None:
    report = {'cwd': os.getcwd()}
    for copy_hydra in (True, False):
        name = f'App{int(copy_hydra)}'
        exp = Experiment(
            OmegaConf.to_container(cfg), name=name, par_dir=cfg.par_dir
        )
        tracker = HydraLink(copy_hydra=copy_hydra)
        exp.trackers.subscribe(tracker)
        with exp.create_run(run_id=cfg.run_id):
            link = tracker.link
            report[name] = {
                'link': str(link),
                'target': os.readlink(link),
                'config': (link / '.hydra' / 'config.yaml').read_text(),
            }
    pathlib.Path(cfg.report).write_text(json.dumps(report))


if __name__ == '__main__':
    main()
"""

CONFIG = """
lr: 0.1
par_dir: ???
report: ???
run_id: 2026-11-27@12h08m16s
"""


@pytest.mark.slow
def test_real_hydra_app(tmp_path: pathlib.Path) -> None:
    app_dir = tmp_path / 'app'
    app_dir.mkdir()
    (app_dir / 'app.py').write_text(textwrap.dedent(APP))
    (app_dir / 'config.yaml').write_text(textwrap.dedent(CONFIG))
    hydra_out = tmp_path / 'hydra_out'
    par_dir = tmp_path / 'exp_out'
    report_path = tmp_path / 'report.json'
    env = dict(os.environ, DRYTORCH_INIT_MODE='none')
    env['PYTHONPATH'] = os.pathsep.join([str(REPO), env.get('PYTHONPATH', '')])
    completed = subprocess.run(
        [
            sys.executable,
            str(app_dir / 'app.py'),
            f'par_dir={par_dir}',
            f'report={report_path}',
            f'hydra.run.dir={hydra_out}',
            'lr=0.5',
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(report_path.read_text())
    hydra_config = (hydra_out / '.hydra' / 'config.yaml').read_text()
    assert 'lr: 0.5' in hydra_config
    for name in ('App1', 'App0'):
        link = par_dir / 'hydra' / name / '2026-11-27' / '12h08m16s'
        assert report[name]['link'] == str(link)
        assert report[name]['target'] == str(hydra_out)
        assert report[name]['config'] == hydra_config
    copied = par_dir / 'hydra' / 'App1' / '2026-11-27' / '12h08m16s'
    assert copied.is_dir()
    assert not copied.is_symlink()
    assert (copied / '.hydra' / 'config.yaml').read_text() == hydra_config
    assert (copied / '.hydra' / 'overrides.yaml').is_file()
    linked = par_dir / 'hydra' / 'App0' / '2026-11-27' / '12h08m16s'
    assert linked.is_symlink()
    assert linked.resolve() == hydra_out.resolve()
