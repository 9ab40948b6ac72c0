#!/usr/bin/env bash
# The README on a new machine, as a new user meets it: a copy of the working
# tree, a new virtual environment, an empty HOME (so no Keras config) and no
# KERAS_BACKEND. In it, in order:
#   1. the README's quickstart line, read from README.md and run verbatim
#      (it installs only ".[jax,recipes]" and trains recipes/cnn.py);
#   2. the README's Python example, read from README.md;
#   3. epochkit --help;
#   4. epochkit analyze on the history the quickstart wrote.
# Every step runs even if one before it failed; the end lists each step as
# PASS or FAIL with its time, and a failed step's last output lines.
#
# Usage: bash scripts/fresh_install.sh [--keep]
#   --keep   leave the scratch directory (printed at the start) in place
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
keep=0
[ "${1:-}" = "--keep" ] && keep=1

work="$(mktemp -d "${TMPDIR:-/tmp}/epochkit-fresh.XXXXXX")"
clone="$work/keras-epochkit"
home="$work/home"
logs="$work/logs"
mkdir -p "$clone" "$home" "$logs"
if [ "$keep" = 0 ]; then
  trap 'rm -rf "$work"' EXIT
fi
echo "scratch directory: $work"

# The README's blocks: the first fenced block after a heading.
readme_block() {  # heading, language
  python3 "$root/scripts/readme_block.py" "$1" "$2" "$root/README.md"
}
quickstart="$(readme_block Quickstart bash)" || exit 1
example="$(readme_block Example python)" || exit 1
if [ "$(printf '%s\n' "$quickstart" | grep -c .)" != 1 ]; then
  echo "README.md: the Quickstart block must be one command line" >&2
  exit 1
fi
echo "quickstart line: $quickstart"

# A fresh clone: the tracked and new (not ignored) files of the working tree.
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$root" && while IFS= read -r -d '' f; do
    [ -f "$f" ] && printf '%s\0' "$f"
  done) | (cd "$root" && tar --null -T - -cf -) | tar -C "$clone" -xf -

python3 -m venv "$work/venv"
# The user's view: the new environment first on PATH, nothing of the caller's
# Python setup, Keras or home directory. Downloads still come from the caller's
# pip cache, which changes no result.
cache="${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pip}"
user_env=(
  env -u KERAS_BACKEND -u KERAS_HOME -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV
  -u XDG_CACHE_HOME -u XDG_CONFIG_HOME -u MPLCONFIGDIR
  HOME="$home" PATH="$work/venv/bin:$PATH" PIP_CACHE_DIR="$cache"
  TF_CPP_MIN_LOG_LEVEL=2
)

names=()
results=()
step() {  # name, directory, command...
  local name="$1" dir="$2" log="$logs/${#names[@]}.log"
  shift 2
  printf '\n=== fresh install: %s ===\n' "$name"
  local t0 t1 rc
  t0=$(date +%s.%N)
  (cd "$dir" && "${user_env[@]}" "$@") 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  t1=$(date +%s.%N)
  names+=("$name")
  results+=("$rc $(python3 -c "print(f'{$t1 - $t0:.1f}')") $log")
  [ "$rc" = 0 ] || printf '\n!!! FAILED: %s (exit %s)\n' "$name" "$rc"
  return 0
}
check() {  # name, condition as a command
  local name="$1"
  shift
  names+=("$name")
  if "$@" >"$logs/${#names[@]}.check" 2>&1; then
    results+=("0 0.0 -")
  else
    results+=("1 0.0 $logs/${#names[@]}.check")
    printf '\n!!! FAILED: %s\n' "$name"
  fi
}

step "README quickstart: $quickstart" "$clone" bash -c "$quickstart"
csv="$clone/runs/cnn/history.csv"
check "the quickstart ran on JAX, found without any setting" \
  grep -q '"backend": "jax"' "$clone/runs/cnn/report.json"
mkdir -p "$work/example"
printf '%s' "$example" >"$work/example/readme_example.py"
step "README Python example" "$work/example" python readme_example.py
step "epochkit --help" "$clone" epochkit --help
step "epochkit analyze runs/cnn/history.csv" "$clone" epochkit analyze "$csv"

printf '\n=== fresh install: summary ===\n'
failed=0
for i in "${!names[@]}"; do
  read -r rc seconds log <<<"${results[$i]}"
  if [ "$rc" = 0 ]; then
    printf 'PASS  %7ss  %s\n' "$seconds" "${names[$i]}"
  else
    failed=$((failed + 1))
    printf 'FAIL  %7ss  %s (exit %s)\n' "$seconds" "${names[$i]}" "$rc"
    [ -f "$log" ] && tail -n 15 "$log" | sed 's/^/      | /'
  fi
done
echo "fresh install: $(( ${#names[@]} - failed )) of ${#names[@]} steps passed"
[ "$failed" = 0 ]
