#!/usr/bin/env bash
# Set up the project's virtual environment, then run the tests or a notebook.
#
#   ./run.sh test [PYTEST_ARGS...]   lint, type check, then pytest
#   ./run.sh test-python X.Y [PYTEST_ARGS...]
#                                    the fast tests on another Python
#   ./run.sh showcase [NOTEBOOK]     execute notebooks/NOTEBOOK.md in a kernel
#
# Needs only python3 (with venv and pip). The first call creates .venv and
# installs the project; later calls reuse it until pyproject.toml changes.
# What some tests need besides .venv (a PostgreSQL server, Chromium, the
# Colab-like .venv-w7) is set up only when the selected tests need it.
set -euo pipefail

cd "$(dirname "$0")"

readonly VENV=.venv
readonly PY=$VENV/bin/python
# Pinned: an unpinned torch pulls a CUDA build of several GB, and installing it
# before the project keeps `torch>=...` in pyproject from choosing another.
readonly TORCH_REQUIREMENT='torch==2.13.0'
readonly SHOWCASE_DIR=out/showcase

say() { printf '==> %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<'EOF'
Usage:
  ./run.sh test [PYTEST_ARGS...]   set up, lint, type check and run the tests
                                   (all of them, or those PYTEST_ARGS select;
                                   -m fast: those needing no server, browser
                                   or kernel)
  ./run.sh test-python X.Y [PYTEST_ARGS...]
                                   run the fast tests on Python X.Y (from
                                   pyenv), in .venv-pyX.Y
  ./run.sh showcase [NOTEBOOK]     set up and execute notebooks/NOTEBOOK.md
                                   (default: showcase, the notebook flow with
                                   the extension); output in out/showcase/
EOF
}

# ensure_venv VENV [PYTHON]: create VENV with PYTHON (default python3).
ensure_venv() {
  local venv=$1 python=${2:-python3}
  # A venv whose creation was interrupted has a python but no pip: redo it.
  if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    say "Creating $venv"
    "$python" -m venv --clear "$venv"
  fi
}

# ensure_python_packages VENV: torch, then the project with its dev extra,
# again whenever pyproject.toml changes.
ensure_python_packages() {
  local venv=$1 digest stamp
  digest=$(sha256sum pyproject.toml | cut -c1-16)
  stamp=$venv/.installed-$digest
  [[ -f $stamp ]] && return
  say "Installing $TORCH_REQUIREMENT in $venv"
  "$venv/bin/python" -m pip install "$TORCH_REQUIREMENT"
  say "Installing drytorch (editable) with its dev extra in $venv"
  "$venv/bin/python" -m pip install -e '.[dev]'
  rm -f "$venv"/.installed-*
  touch "$stamp"
}

setup() {
  ensure_venv "$VENV"
  ensure_python_packages "$VENV"
}

# What some tests need besides .venv, by the markers tests/conftest.py gives
# them: postgres (the SQL tracker is tested against a real server), browser
# (the notebook panel is checked in a real Chromium), w7 (and in the
# Colab-like environment below).
readonly NEEDS=(postgres browser w7)

postgres_ready() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }
browser_ready() { [[ -x /usr/bin/chromium ]]; }
w7_ready() { [[ -f $(w7_stamp) ]]; }

# The needs of the tests that PYTEST_ARGS select, one a line: all of them
# for the whole suite and under CI, else as a collection reports them. A
# collection that fails needs nothing: the run itself shows why.
selected_needs() {
  if (($# == 0)) || [[ -n ${CI:-} ]]; then
    printf '%s\n' "${NEEDS[@]}"
    return
  fi
  say 'Collecting the selected tests to see what they need' >&2
  local report
  report=$(mktemp)
  "$PY" -m pytest --collect-only -q -p no:cacheprovider \
    --report-needs="$report" "$@" >/dev/null 2>&1 || true
  cat "$report"
  rm -f "$report"
}

# Set up what the selected tests need and is missing (collecting them only
# when something is missing); point the tests at .venv-w7 when it is ready.
prepare_tests() {
  local missing=() need
  for need in "${NEEDS[@]}"; do
    "${need}_ready" || missing+=("$need")
  done
  if ((${#missing[@]})); then
    local needed packages=() unneeded=()
    needed=" $(selected_needs "$@" | tr '\n' ' ') "
    for need in "${missing[@]}"; do
      if [[ $needed != *" $need "* ]]; then
        unneeded+=("$need")
        continue
      fi
      case $need in
        postgres) packages+=(postgresql) ;;
        browser) packages+=(chromium) ;;
        w7) ensure_widgets7_venv ;;
      esac
    done
    ((${#packages[@]} == 0)) || install_system_packages "${packages[@]}"
    ((${#unneeded[@]} == 0)) ||
      say "Not set up (the selected tests do not need it): ${unneeded[*]}"
  fi
  if w7_ready; then
    DRYTORCH_NB_W7_PYTHON=$PWD/$W7_VENV/bin/python
    export DRYTORCH_NB_W7_PYTHON
  fi
}

install_system_packages() {
  command -v apt-get >/dev/null || die "missing $* and no apt-get"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  say "Installing system packages: $*"
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@"
}

# A second environment that copies Colab's widget stack (ipywidgets 7.7,
# ipykernel 6.17, IPython 7.34, served by JupyterLab 3.6): the panel is
# checked in a real browser against it as well as against ipywidgets 8.
readonly W7_VENV=.venv-w7
readonly W7_REQUIREMENTS=(
  "$TORCH_REQUIREMENT" 'ipywidgets==7.7.1' 'jupyterlab_widgets==1.1.*'
  'ipykernel==6.17.1' 'ipython==7.34.0' 'jupyterlab==3.6.*'
  numpy filelock pyyaml tqdm typing_extensions
)

w7_stamp() {
  local digest
  digest=$(printf '%s\n' "${W7_REQUIREMENTS[@]}" | sha256sum | cut -c1-16)
  printf '%s\n' "$W7_VENV/.installed-$digest"
}

ensure_widgets7_venv() {
  w7_ready && return
  say "Creating $W7_VENV (ipywidgets 7 kernel for the browser tests)"
  python3 -m venv --clear "$W7_VENV"
  "$W7_VENV/bin/python" -m pip install -q "${W7_REQUIREMENTS[@]}"
  # --no-deps: the project's own requirements are checked against this
  # environment by tests/test_packaging.py, not installed over it
  "$W7_VENV/bin/python" -m pip install -q --no-deps -e .
  touch "$(w7_stamp)"
}

# run_pytest PYTHON [PYTEST_ARGS...]: pytest, failing when it ran nothing.
run_pytest() {
  local python=$1 status=0
  shift
  "$python" -m pytest "$@" || status=$?
  if ((status == 5)); then
    die 'pytest collected no tests (exit status 5); failing.'
  fi
  return "$status"
}

run_tests() {
  prepare_tests "$@"
  say 'ruff check'
  "$PY" -m ruff check drytorch drytorch_nb tests bench docs
  say 'ruff format --check'
  "$PY" -m ruff format --check drytorch drytorch_nb tests bench docs
  say 'mypy'
  "$PY" -m mypy
  say 'pytest'
  run_pytest "$PY" "$@"
}

# pythonX.Y on PATH, else pyenv's: a fresh machine has 3.10 to 3.13 under
# ~/.pyenv/versions, and pyenv's shims run only the active one.
find_python() {
  local version=$1 candidate
  for candidate in "$(command -v "python$version" || true)" \
    "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version".*/bin/python"$version"; do
    if [[ -x $candidate ]] && "$candidate" -c '' 2>/dev/null; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# The fast tests (no server, browser or kernel) on another Python, in its own
# venv. The pinned torch is a local CPU build for Python 3.11 only: for other
# Pythons pip takes PyPI's build with its nvidia-* libraries (about 3 GB
# downloaded, 4.7 GB installed, 2 minutes here); the wheel alone does not
# import without them, and PyPI has no CPU-only build for x86-64 Linux.
run_other_python() {
  local version=${1:-}
  [[ $version =~ ^3\.[0-9]+$ ]] || { usage >&2; exit 2; }
  shift
  local python venv=.venv-py$version
  python=$(find_python "$version") || die "no Python $version found"
  ensure_venv "$venv" "$python"
  ensure_python_packages "$venv"
  say "pytest -m fast on $("$venv/bin/python" --version)"
  run_pytest "$venv/bin/python" -m fast "$@"
}

run_showcase() {
  local name=${1:-}
  if [[ -z $name ]]; then
    name=showcase
    [[ -f notebooks/$name.md ]] || name=getting_started
  fi
  # Accept `foo`, `foo.md` and `notebooks/foo.md` alike.
  name=${name##*/}
  name=${name%.md}
  local source=notebooks/$name.md
  if [[ ! -f $source ]]; then
    die "no notebook $source; available: $(cd notebooks && ls -- *.md)"
  fi

  # Start empty, so that what is listed below comes from this execution only.
  rm -rf "$SHOWCASE_DIR"
  say "Executing $source (kernel working directory: $SHOWCASE_DIR/)"
  local executed=$SHOWCASE_DIR/$name.ipynb
  if ! "$PY" notebooks/_execute.py "$source" "$SHOWCASE_DIR"; then
    die "a cell of $source failed; what ran is in $executed"
  fi

  local files
  mapfile -t files < <(find "$SHOWCASE_DIR" -type f ! -path "$executed" | sort)
  say "Executed notebook: $executed (open it in JupyterLab, or convert it:"
  say "    $VENV/bin/jupyter nbconvert --to html $executed)"
  say "Files written by the notebook (${#files[@]}, under $SHOWCASE_DIR/):"
  local limit=40
  printf '    %s\n' "${files[@]:0:limit}"
  if ((${#files[@]} > limit)); then
    printf '    ... and %d more\n' $((${#files[@]} - limit))
  fi
}

main() {
  local target=${1:-}
  case $target in
    test)
      shift
      setup
      run_tests "$@"
      ;;
    test-python)
      shift
      run_other_python "$@"
      ;;
    showcase)
      shift
      (($# <= 1)) || { usage >&2; exit 2; }
      setup
      run_showcase "$@"
      ;;
    -h | --help | help)
      usage
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
