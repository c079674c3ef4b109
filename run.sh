#!/usr/bin/env bash
# Set up the project's virtual environment, then run the tests or a notebook.
#
#   ./run.sh test [PYTEST_ARGS...]   lint, type check, then pytest
#   ./run.sh showcase [NOTEBOOK]     execute notebooks/NOTEBOOK.md in a kernel
#
# Needs only python3 (with venv and pip). The first call creates .venv and
# installs the project; later calls reuse it until pyproject.toml changes.
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
  ./run.sh showcase [NOTEBOOK]     set up and execute notebooks/NOTEBOOK.md
                                   (default: showcase, the notebook flow with
                                   the extension); output in out/showcase/
EOF
}

ensure_venv() {
  # A venv whose creation was interrupted has a python but no pip: redo it.
  if ! "$PY" -m pip --version >/dev/null 2>&1; then
    say "Creating $VENV"
    python3 -m venv --clear "$VENV"
  fi
}

ensure_python_packages() {
  local digest stamp
  digest=$(sha256sum pyproject.toml | cut -c1-16)
  stamp=$VENV/.installed-$digest
  [[ -f $stamp ]] && return
  say "Installing $TORCH_REQUIREMENT"
  "$PY" -m pip install "$TORCH_REQUIREMENT"
  say 'Installing drytorch (editable) with its dev extra'
  "$PY" -m pip install -e '.[dev]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
}

setup() {
  ensure_venv
  ensure_python_packages
}

# System packages the tests need: a PostgreSQL server (the SQL tracker is
# tested against a real one) and Chromium (the notebook panel is checked in a
# real browser). Installed only when missing, with one `apt-get update`.
ensure_test_system_packages() {
  local missing=()
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
  [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  say "Installing system packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
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

ensure_widgets7_venv() {
  local digest stamp
  digest=$(printf '%s\n' "${W7_REQUIREMENTS[@]}" | sha256sum | cut -c1-16)
  stamp=$W7_VENV/.installed-$digest
  if [[ ! -f $stamp ]]; then
    say "Creating $W7_VENV (ipywidgets 7 kernel for the browser tests)"
    python3 -m venv --clear "$W7_VENV"
    "$W7_VENV/bin/python" -m pip install -q "${W7_REQUIREMENTS[@]}"
    "$W7_VENV/bin/python" -m pip install -q --no-deps -e .
    touch "$stamp"
  fi
  DRYTORCH_NB_W7_PYTHON=$PWD/$W7_VENV/bin/python
  export DRYTORCH_NB_W7_PYTHON
}

run_tests() {
  ensure_widgets7_venv
  say 'ruff check'
  "$PY" -m ruff check drytorch drytorch_nb tests bench docs
  say 'ruff format --check'
  "$PY" -m ruff format --check drytorch drytorch_nb tests bench docs
  say 'mypy'
  "$PY" -m mypy
  say 'pytest'
  local status=0
  "$PY" -m pytest "$@" || status=$?
  if ((status == 5)); then
    die 'pytest collected no tests (exit status 5); failing.'
  fi
  return "$status"
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
      ensure_test_system_packages
      setup
      run_tests "$@"
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
