#!/usr/bin/env bash
# Everything CI checks, in one command:
#   1. a fresh virtual environment with keras-epochkit and all its extras
#      (TensorFlow, JAX and PyTorch pinned to torch==2.13.0, CPU build),
#   2. ruff check and ruff format --check,
#   3. mkdocs build --strict,
#   4. the test suite, doctests included, once per Keras backend, on the
#      newest Keras,
#   5. the README on a new machine (scripts/fresh_install.sh): a second fresh
#      environment with only ".[jax,recipes]", an empty HOME and no
#      KERAS_BACKEND runs the quickstart line and the Python example, both
#      read from README.md, then `epochkit --help` and `epochkit analyze`,
#   6. the fast tests on JAX with the oldest Keras that pyproject.toml allows,
#      in a third fresh environment,
#   7. the fast tests on TensorFlow with the Colab-like pins ($colab_pins
#      below: the TensorFlow and Keras that Colab ships), in a fourth.
# It fails if any step fails or if a backend runs zero tests.
#
# Usage: bash scripts/check.sh [--fast] [--reuse] [--venv DIR] [--[no-]fresh]
#                              [--backends "tensorflow jax torch"]
#                              [--pins "REQ..."] [--extras LIST] [--no-lint]
#                              [-- PYTEST_ARGS...]
#   --fast      skip tests marked slow (the quick local loop)
#   --reuse     keep an existing environment instead of making a fresh one
#   --no-fresh  skip steps 5 to 7, which the options above and pytest
#               arguments also skip (the quick loops)
#   --fresh     run steps 5 to 7 all the same
#   --pins      make the environment with these exact requirements, for
#               example --pins "keras==3.12.0"; implies --no-fresh
#   --extras    the extras to install (default "all")
#   --no-lint   skip ruff and the docs build
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="$root/.venv-check"
backends="tensorflow jax torch"
fast=0
reuse=0
fresh=auto
lint=1
pins=""
extras="all"
pytest_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --fast) fast=1; [ "$fresh" = auto ] && fresh=0 ;;
    --reuse) reuse=1; [ "$fresh" = auto ] && fresh=0 ;;
    --venv) venv="$2"; shift ;;
    --backends) backends="$2"; [ "$fresh" = auto ] && fresh=0; shift ;;
    --no-fresh) fresh=0 ;;
    --fresh) fresh=1 ;;
    --pins) pins="$2"; fresh=0; shift ;;
    --extras) extras="$2"; shift ;;
    --no-lint) lint=0 ;;
    --) shift; pytest_extra=("$@"); [ "$fresh" = auto ] && fresh=0; break ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

step() { printf '\n=== %s ===\n' "$*"; }
start=$(date +%s)

if [ "$reuse" = 0 ] || [ ! -x "$venv/bin/python" ]; then
  step "fresh environment in $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  if [ -n "$pins" ]; then
    # The pins also constrain what the extras pull in (a constraint names no
    # extras).
    read -r -a pin_list <<<"$pins"
    printf '%s\n' "${pin_list[@]}" | sed -E 's/\[[^]]*\]//' >"$venv/pins.txt"
    "$venv/bin/python" -m pip install --quiet -c "$venv/pins.txt" \
      "${pin_list[@]}" -e ".[$extras]"
  else
    # The exact pin keeps pip on the CPU wheel instead of several GB of CUDA
    # packages.
    "$venv/bin/python" -m pip install --quiet "torch==2.13.0"
    "$venv/bin/python" -m pip install --quiet -e ".[$extras]"
  fi
fi
py="$venv/bin/python"
export PATH="$venv/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL=2

"$py" - <<'PY'
import importlib.metadata as m

names = ("keras", "numpy", "tensorflow", "jax", "torch")
versions = []
for name in names:
    try:
        versions.append(f"{name} {m.version(name)}")
    except m.PackageNotFoundError:
        pass
print("environment: " + ", ".join(versions))
PY

if [ "$lint" = 1 ]; then
  step "ruff"
  "$py" -m ruff check .
  "$py" -m ruff format --check .

  step "docs"
  "$py" -m mkdocs build --strict --site-dir "$root/site"
fi

markers=()
[ "$fast" = 1 ] && markers=(-m "not slow")
# Two workers by default: most tests are single-threaded Python and many wait
# on subprocesses, so both cores stay busy. EPOCHKIT_TEST_WORKERS=0 runs in one.
workers="${EPOCHKIT_TEST_WORKERS:-2}"
parallel=()
[ "$workers" != 0 ] && parallel=(-n "$workers")

status=0
total_passed=0
total_failed=0
total_skipped=0
summary=""
for backend in $backends; do
  step "tests on $backend"
  report="$root/.pytest-$backend.xml"
  rm -f "$report"
  t0=$(date +%s)
  set +e
  KERAS_BACKEND="$backend" "$py" -m pytest -p no:cacheprovider "${markers[@]}" \
    "${parallel[@]}" --durations=15 --junitxml="$report" "${pytest_extra[@]}"
  rc=$?
  set -e
  seconds=$(( $(date +%s) - t0 ))
  read -r tests failures errors skipped < <("$py" - "$report" <<'PY'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0, 0, 1, 0)
    raise SystemExit
suites = [root] if root.tag == "testsuite" else list(root)
count = lambda key: sum(int(s.get(key, 0)) for s in suites)
print(count("tests"), count("failures"), count("errors"), count("skipped"))
PY
  )
  passed=$(( tests - failures - errors - skipped ))
  failed=$(( failures + errors ))
  total_passed=$(( total_passed + passed ))
  total_failed=$(( total_failed + failed ))
  total_skipped=$(( total_skipped + skipped ))
  summary+="$(printf '%-11s %5d passed %4d failed %4d skipped %6ds' "$backend" "$passed" "$failed" "$skipped" "$seconds")"$'\n'
  if [ "$rc" != 0 ]; then
    status=1
  elif [ "$passed" -le 0 ]; then
    echo "no test passed on $backend" >&2
    status=1
  fi
done

# The pair of TensorFlow and Keras that Colab's runtimes ship (Colab's
# published package list), with the NumPy that comes with them. The docs
# (docs/installation.md) show the command that checks it.
colab_pins="tensorflow==2.20.0 keras==3.13.2 numpy==2.1.3"

# pinned_fast_tests LABEL VENV BACKEND EXTRAS PINS: the fast tests on one
# backend in a fresh environment made with exact pins, added to the summary.
pinned_fast_tests() {
  local label="$1" pinned_venv="$2" backend="$3" pinned_extras="$4"
  local pinned="$5" t0 log rc passed failed skipped
  t0=$(date +%s)
  log="$(mktemp)"
  set +e
  bash "$root/scripts/check.sh" --venv "$root/$pinned_venv" --no-lint \
    --pins "$pinned" --extras "$pinned_extras" --backends "$backend" --fast \
    2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  read -r passed failed skipped < <(sed -nE \
    's/^total: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/p' \
    "$log" | tail -n 1) || true
  rm -f "$log"
  passed=${passed:-0}
  failed=${failed:-0}
  skipped=${skipped:-0}
  total_passed=$(( total_passed + passed ))
  total_failed=$(( total_failed + failed ))
  total_skipped=$(( total_skipped + skipped ))
  summary+="$(printf '%-11s %5d passed %4d failed %4d skipped %6ds  (%s, fast tests)' \
    "$label" "$passed" "$failed" "$skipped" "$(( $(date +%s) - t0 ))" "$backend")"$'\n'
  if [ "$rc" != 0 ] || [ "$passed" -le 0 ]; then
    status=1
  fi
}

if [ "$fresh" != 0 ]; then
  step "the README on a new machine"
  t0=$(date +%s)
  if bash "$root/scripts/fresh_install.sh"; then fresh_rc=0; else fresh_rc=1; fi
  summary+="$(printf '%-11s %-35s %6ds' "new machine" \
    "README steps $([ "$fresh_rc" = 0 ] && echo passed || echo FAILED)" \
    "$(( $(date +%s) - t0 ))")"$'\n'
  [ "$fresh_rc" = 0 ] || status=1

  floor="$("$py" - <<'PY'
import re

text = open("pyproject.toml", encoding="utf-8").read()
print(re.search(r'"keras>=([0-9.]+)"', text).group(1))
PY
  )"
  step "fast tests on the Keras floor, keras==$floor with JAX"
  pinned_fast_tests "keras $floor" .venv-floor jax "jax,test,recipes" \
    "keras==$floor"

  step "fast tests on the Colab-like set with TensorFlow: $colab_pins"
  pinned_fast_tests "colab-like" .venv-colab tensorflow "test,recipes" \
    "$colab_pins"
fi

step "summary ($(( $(date +%s) - start ))s)"
printf '%s' "$summary"
echo "total: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit "$status"
