"""The drytorch magics: argument parsing over the plain commands.

``EXPERIMENT`` is the name of a variable of the notebook holding an
Experiment; without it, the most recently created experiment is used (see
:mod:`drytorch_nb._namespace`). Mistakes (an unknown name, a run already
active, a taken run id) are reported as a ``UsageError``: one red line that
says what to do, no traceback, and the cell counts as failed, so "Run all"
stops there instead of training outside the intended run.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
from collections.abc import Callable
from typing import Any

from IPython.core import magic_arguments
from IPython.core.error import UsageError
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

from drytorch import Experiment
from drytorch.core import exceptions
from drytorch_nb import _commands
from drytorch_nb._compare import compare_runs
from drytorch_nb._namespace import (
    ExperimentWatcher,
    experiment_variables,
    resolve_variable,
)

__all__ = ['DrytorchMagics', 'execute_cell']


def execute_cell(shell: InteractiveShell, cell: str) -> Any:
    """Run a cell's source in the user namespace, letting errors propagate.

    The source gets IPython's transformations (magics, ``!`` commands) and
    is cached for tracebacks, as in a normal cell; the value of a final
    expression is returned so that IPython displays it. Top-level ``await``
    is not supported.
    """
    __tracebackhide__ = True
    # one blank line stands for the %%drytorch line, so that tracebacks
    # give the line numbers of the notebook cell
    source = '\n' + shell.transform_cell(cell)
    filename = shell.compile.cache(source, shell.execution_count, cell)
    tree = shell.transform_ast(shell.compile.ast_parse(source, filename))
    last: ast.Expression | None = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    namespace = shell.user_ns
    exec(
        shell.compile(tree, filename, 'exec'), shell.user_global_ns, namespace
    )
    if last is None:
        return None
    return eval(
        shell.compile(last, filename, 'eval'),  # type: ignore[arg-type]
        shell.user_global_ns,
        namespace,
    )


def _run_arguments(func: Callable[..., Any]) -> Callable[..., Any]:
    """The arguments shared by %drytorch_start and %%drytorch."""
    decorators = (
        magic_arguments.argument(
            '--run-id',
            metavar='ID',
            default=None,
            help='the id of a new run (default: the current time).',
        ),
        magic_arguments.argument(
            '--resume',
            metavar='RUN_ID',
            nargs='?',
            const=True,
            default=False,
            help=(
                'resume the recorded run RUN_ID (default: the run last '
                'started or resumed in the experiment).'
            ),
        ),
        magic_arguments.argument(
            'experiment',
            metavar='EXPERIMENT',
            nargs='?',
            default=None,
            help=(
                'a variable holding an Experiment (default: the most '
                'recently created one).'
            ),
        ),
    )
    for decorator in decorators:
        func = decorator(func)
    return func


def _active_run_hint(run: Any) -> str:
    return (
        f'Run {run.id} of experiment {run.experiment.name} is active: stop '
        'it with %drytorch_stop before starting another. Nothing was '
        'changed.'
    )


@magics_class
class DrytorchMagics(Magics):
    """Start, stop, resume and inspect drytorch runs from a notebook.

    Attributes:
        watcher: the order in which experiments appeared in the notebook.
        panel: the panel tracker the extension added, if any.
    """

    def __init__(
        self,
        shell: InteractiveShell,
        watcher: ExperimentWatcher,
        panel: object = None,
    ) -> None:
        """Args:
        shell: the IPython shell.
        watcher: the order in which experiments appeared in the notebook.
        panel: the panel tracker the extension added, if any: while it
            shows the run live, starting and stopping print nothing.
        """  # noqa: D205
        super().__init__(shell)
        self.watcher = watcher
        self.panel = panel

    @property
    def _namespace(self) -> dict[str, Any]:
        assert self.shell is not None
        return self.shell.user_ns

    def after_cell(self, result: ExecutionResult) -> None:
        """post_run_cell callback: note the experiments the cell created."""
        del result
        self.watcher.scan(self._namespace)

    def _experiment(self, name: str | None) -> Experiment[Any]:
        try:
            if name is None:
                return self.watcher.latest(self._namespace)[1]
            return resolve_variable(self._namespace, name)
        except (LookupError, TypeError, ValueError) as error:
            raise UsageError(str(error)) from None

    def _run_options(
        self, args: argparse.Namespace
    ) -> tuple[Experiment[Any], str | None, bool]:
        name: str | None = args.experiment
        resume: bool | str = args.resume
        run_id: str | None = args.run_id
        if (
            name is None
            and isinstance(resume, str)
            and isinstance(self._namespace.get(resume), Experiment)
        ):
            # '%drytorch_start --resume exp': argparse gives 'exp' to
            # --resume, but the user named the experiment
            name, resume = resume, True
        if isinstance(resume, str):
            if run_id is not None and run_id != resume:
                msg = (
                    f'Expected one run id, got --resume {resume} and '
                    f'--run-id {run_id}.'
                )
                raise UsageError(msg)
            run_id, resume = resume, True
        return self._experiment(name), run_id, bool(resume)

    def _refusal(self, error: Exception) -> UsageError:
        run = _commands.active_run()
        if isinstance(error, exceptions.NestedScopeError) and run is not None:
            return UsageError(_active_run_hint(run))
        return UsageError(str(error))

    @magic_arguments.magic_arguments()
    @_run_arguments
    @line_magic
    def drytorch_start(self, line: str) -> None:
        """Start (or resume) a recorded run that stays active across cells.

        Refused, with nothing changed, while another run is active: stop it
        first with %drytorch_stop. Stop this run with %drytorch_stop too;
        a kernel shutdown records it ``completed``.
        """
        args = magic_arguments.parse_argstring(self.drytorch_start, line)
        experiment, run_id, resume = self._run_options(args)
        try:
            run = _commands.start_run(experiment, run_id=run_id, resume=resume)
        except exceptions.DryTorchError as error:
            raise self._refusal(error) from None
        if self._panel_is_live():
            return  # the panel, displayed by now, says it: no extra text
        action = 'Resumed' if run.resumed else 'Started'
        print(
            f'{action} run {run.id} of experiment {experiment.name}; stop it '
            'with %drytorch_stop.'
        )

    def _panel_is_live(self) -> bool:
        """Whether the extension's panel shows the active run live."""
        return getattr(self.panel, 'widget', None) is not None

    @line_magic
    def drytorch_stop(self, line: str) -> None:
        """Stop the active run and record it ``completed``."""
        if line.strip():
            msg = f'%drytorch_stop takes no arguments, got {line.strip()!r}.'
            raise UsageError(msg)
        live = self._panel_is_live()
        run = _commands.stop_run()
        if run is None:
            print('No active run: nothing to stop.')
            return
        if live:
            return  # the panel's report, shown in its place, says it
        print(
            f'Stopped run {run.id} of experiment {run.experiment.name} '
            f'({run.status}).'
        )

    @magic_arguments.magic_arguments()
    @_run_arguments
    @cell_magic
    def drytorch(self, line: str, cell: str) -> Any:
        """Run the cell inside a run that ends with the cell.

        The run is recorded ``failed`` if the cell raises (the error is shown
        as usual), ``interrupted`` if it is interrupted, ``completed``
        otherwise. Refused, without running the cell, while another run is
        active.
        """
        __tracebackhide__ = True
        args = magic_arguments.parse_argstring(self.drytorch, line)
        experiment, run_id, resume = self._run_options(args)
        assert self.shell is not None
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(
                    _commands.cell_run(
                        experiment, run_id=run_id, resume=resume
                    )
                )
            except exceptions.DryTorchError as error:
                raise self._refusal(error) from None
            return execute_cell(self.shell, cell)

    @line_magic
    def drytorch_status(self, line: str) -> None:
        """Show the active run: experiment, config, models and actors."""
        if line.strip():
            msg = f'%drytorch_status takes no arguments, got {line.strip()!r}.'
            raise UsageError(msg)
        display(_commands.status())

    @magic_arguments.magic_arguments()
    @magic_arguments.argument(
        'experiment',
        metavar='EXPERIMENT',
        nargs='?',
        default=None,
        help=(
            'a variable holding an Experiment (default: the experiment of '
            'the active run, else the most recently created one).'
        ),
    )
    @magic_arguments.argument(
        '--status',
        default=None,
        help='only the runs with this status (e.g. failed).',
    )
    @magic_arguments.argument(
        '--last',
        metavar='N',
        type=int,
        default=None,
        help='only the last N runs.',
    )
    @line_magic
    def drytorch_runs(self, line: str) -> None:
        """Show the recorded runs of an experiment, with their results."""
        args = magic_arguments.parse_argstring(self.drytorch_runs, line)
        experiment: Experiment[Any]
        run = _commands.active_run()
        if args.experiment is None and run is not None:
            experiment = run.experiment
        else:
            experiment = self._experiment(args.experiment)
        try:
            table = _commands.list_runs(
                experiment, status=args.status, last=args.last
            )
        except ValueError as error:
            raise UsageError(str(error)) from None
        display(table)

    @magic_arguments.magic_arguments()
    @magic_arguments.argument(
        'targets',
        metavar='EXPERIMENT',
        nargs='*',
        help=(
            'variables holding Experiments, or names of experiments '
            'recorded under --par-dir (default: every experiment of the '
            'notebook).'
        ),
    )
    @magic_arguments.argument(
        '--runs',
        metavar='RUN_ID',
        nargs='+',
        default=[],
        help=(
            'compare these runs (RUN_ID or EXPERIMENT/RUN_ID) instead of '
            'the latest run of each experiment.'
        ),
    )
    @magic_arguments.argument(
        '--all',
        action='store_true',
        help='compare every run of each experiment, not only the latest.',
    )
    @magic_arguments.argument(
        '--code',
        action='store_true',
        help='show the notebook cells that differ between the two runs.',
    )
    @magic_arguments.argument(
        '--par-dir',
        metavar='DIR',
        default=None,
        help=(
            'where experiments named by string are recorded (default: the '
            "first experiment's par_dir, else the current folder)."
        ),
    )
    @line_magic
    def drytorch_compare(self, line: str) -> None:
        """Compare runs: a table of results and overlaid learning curves."""
        args = magic_arguments.parse_argstring(self.drytorch_compare, line)
        namespace = self._namespace
        targets: list[Experiment[Any] | str] = []
        for name in args.targets:
            value = namespace.get(name)
            targets.append(value if isinstance(value, Experiment) else name)
        if not targets and not args.runs:
            self.watcher.scan(namespace)
            bound = sorted(
                experiment_variables(namespace),
                key=lambda pair: self.watcher.generation(pair[0]),
            )
            targets = [experiment for experiment, _ in bound]
            if not targets:
                msg = (
                    'Expected experiments to compare, got none: create one, '
                    'or name experiments or --runs.'
                )
                raise UsageError(msg)
        try:
            comparison = compare_runs(
                *targets,
                run_ids=args.runs,
                every_run=args.all,
                par_dir=args.par_dir,
                code=args.code,
            )
        except (exceptions.DryTorchError, TypeError, ValueError) as error:
            raise UsageError(str(error)) from None
        display(comparison)
