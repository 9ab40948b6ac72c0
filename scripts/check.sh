#!/usr/bin/env bash
# Everything CI checks, in one command:
#   1. a fresh virtual environment with keras-epochkit and all its extras
#      (TensorFlow, JAX and PyTorch pinned to torch==2.13.0, CPU build),
#   2. ruff check and ruff format --check,
#   3. mkdocs build --strict,
#   4. the test suite, doctests included, once per Keras backend.
# It fails if any step fails or if a backend runs zero tests.
#
# Usage: bash scripts/check.sh [--fast] [--reuse] [--venv DIR]
#                              [--backends "tensorflow jax torch"] [-- PYTEST_ARGS...]
#   --fast      skip tests marked slow (the quick local loop)
#   --reuse     keep an existing environment instead of making a fresh one
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="$root/.venv-check"
backends="tensorflow jax torch"
fast=0
reuse=0
pytest_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --fast) fast=1 ;;
    --reuse) reuse=1 ;;
    --venv) venv="$2"; shift ;;
    --backends) backends="$2"; shift ;;
    --) shift; pytest_extra=("$@"); break ;;
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
  # The exact pin keeps pip on the CPU wheel instead of several GB of CUDA packages.
  "$venv/bin/python" -m pip install --quiet "torch==2.13.0"
  "$venv/bin/python" -m pip install --quiet -e ".[all]"
fi
py="$venv/bin/python"
export PATH="$venv/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL=2

step "ruff"
"$py" -m ruff check .
"$py" -m ruff format --check .

step "docs"
"$py" -m mkdocs build --strict --site-dir "$root/site"

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

step "summary ($(( $(date +%s) - start ))s)"
printf '%s' "$summary"
echo "total: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit "$status"
