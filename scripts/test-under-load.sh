#!/usr/bin/env bash
# Proof that `make test` passes on a busy machine: keep every CPU busy (one
# stress-ng CPU worker per core, normal priority), clone the current main
# into a temporary directory, run `make test` there, report its wall time and
# result, and stop the load whatever happens.
#
#   scripts/test-under-load.sh [MAKE_TARGET]     (default: test)
#
# Environment:
#   REPO           the repository to clone (default: this checkout's)
#   BRANCH         what to clone (default: main)
#   MOLECULE_LOCK  lock file held around every Molecule run and the image build
#                  (default /tmp/molecule.lock; empty for none): scenarios use
#                  fixed container names, so two checkouts on one machine must
#                  take turns
#   KEEP_CLONE=1   leave the clone (and its log) in place afterwards
#   RUNS=N         run it N times in a row (a fresh clone each time), print
#                  each run's result and wall time, and fail if any failed
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-test}

if [ "${RUNS:-1}" -gt 1 ]; then
  failed=0
  results=()
  for run in $(seq "$RUNS"); do
    echo "[load] run $run of $RUNS"
    begin=$(date +%s)
    if RUNS=1 "$0" "$target"; then result=PASSED; else result=FAILED; failed=1; fi
    took=$(( $(date +%s) - begin ))
    results+=("run $run: $result in $((took / 60)) min $(printf %02d $((took % 60))) s")
  done
  echo; printf '[load] %s\n' "${results[@]}"
  exit "$failed"
fi
REPO=${REPO:-$here}
BRANCH=${BRANCH:-main}
export MOLECULE_LOCK=${MOLECULE_LOCK-/tmp/molecule.lock}

"$here/scripts/preflight.sh" load

work=$(mktemp -d "${TMPDIR:-/tmp}/test-under-load.XXXX")
log="$work/make-$target.log"
load_pid=""
stop_load() {
  if [ -n "$load_pid" ] && kill -0 "$load_pid" 2>/dev/null; then
    kill "$load_pid" 2>/dev/null || true
    wait "$load_pid" 2>/dev/null || true
  fi
  load_pid=""
}
cleanup() {
  stop_load
  if [ "${KEEP_CLONE:-0}" = 1 ]; then
    echo "[load] clone and log kept in $work"
  else
    # The clone's .venv is large; keep the log next to it only when asked.
    cp "$log" "${TMPDIR:-/tmp}/test-under-load-last.log" 2>/dev/null || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "[load] cloning $REPO ($BRANCH) into $work/repo"
git clone -q --branch "$BRANCH" "$REPO" "$work/repo"
commit=$(git -C "$work/repo" rev-parse --short HEAD)

cores=$(nproc)
echo "[load] loading all $cores CPUs: stress-ng --cpu 0 (one worker per core, normal priority)"
stress-ng --cpu 0 --cpu-method matrixprod --timeout 0 --quiet &
load_pid=$!

echo "[load] make $target in the clone (commit $commit); log: $log"
start=$(date +%s)
rc=0
make -C "$work/repo" "$target" >"$log" 2>&1 || rc=$?
took=$(( $(date +%s) - start ))
stop_load

# The stage table that make test prints at its end.
sed -n '/^stage  *result/,$p' "$log"
result=PASSED
[ "$rc" = 0 ] || result="FAILED (exit $rc)"
printf '\n[load] make %s under load on %s cores, commit %s: %s in %d min %02d s\n' \
  "$target" "$cores" "$commit" "$result" $((took / 60)) $((took % 60))
[ "$rc" = 0 ] || { echo "[load] last lines of the log:"; tail -n 40 "$log"; }
exit "$rc"
