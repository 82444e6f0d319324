#!/usr/bin/env bash
# The stages of make check and make test, timed:
#
#   scripts/stage.sh reset               forget the recorded stages
#   scripts/stage.sh run NAME CMD...     run CMD as stage NAME, record its wall
#                                        time and result, exit with CMD's status
#   scripts/stage.sh summary NAME...     print a table of the stages NAME...
#                                        (wall time, ok / FAILED / not run) and
#                                        the total; exit 1 unless all are ok
#
# Records go to $STAGE_TIMES (default .cache/stage-times), one line per stage:
# NAME RESULT SECONDS CPU-SECONDS. The CPU time is that of the stage's own
# processes (not of what runs inside containers); where it is far below the
# wall time the stage waited, for other processes on a busy machine or for
# containers.
set -uo pipefail
STAGE_TIMES=${STAGE_TIMES:-.cache/stage-times}

now() { echo "${EPOCHREALTIME/,/.}"; }

human() {  # seconds (float) -> "12.3 s" or "4 min 05 s"
  local s=${1%.*} tenths
  if [ "$s" -lt 60 ]; then
    tenths=${1#*.}; tenths=${tenths:0:1}
    printf '%d.%s s' "$s" "${tenths:-0}"
  else
    printf '%d min %02d s' $((s / 60)) $((s % 60))
  fi
}

children_cpu() {  # sets cpu: user + system seconds of this shell's finished children
  local file
  file=$(mktemp)
  times >"$file"  # here, not in $(...) or a pipe, which would time a subshell
  cpu=$(awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); n += p[1] * 60 + p[2] } printf "%.1f", n }' "$file")
  rm -f "$file"
}

machine_cpu() {  # prints "busy idle" jiffies of all CPUs since boot (/proc/stat)
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat
}

elapsed() {  # start end -> seconds with one decimal
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

case "${1:-}" in
  reset)
    mkdir -p "$(dirname "$STAGE_TIMES")"
    : >"$STAGE_TIMES"
    now >"$STAGE_TIMES.start"
    machine_cpu >"$STAGE_TIMES.cpu"
    ;;
  run)
    name=${2:?usage: scripts/stage.sh run NAME CMD...}
    shift 2
    mkdir -p "$(dirname "$STAGE_TIMES")"
    printf '\n===== stage %s: %s\n' "$name" "$*"
    start=$(now)
    # Stages share nothing through stdin; a shared one would be shared state:
    # Node (npm, the Prisma CLI of the real-API stage) sets the inherited stdin
    # non-blocking, and an ansible-playbook starting in another lane then
    # refuses to run ("Ansible requires blocking IO on stdin").
    "$@" </dev/null
    rc=$?
    end=$(now)
    children_cpu
    took=$(elapsed "$start" "$end")
    result=ok
    [ "$rc" = 0 ] || result=FAILED
    echo "$name $result $took $cpu" >>"$STAGE_TIMES"
    printf '===== stage %s: %s in %s (CPU %s)\n' "$name" "$result" "$(human "$took")" "$(human "$cpu")"
    exit "$rc"
    ;;
  summary)
    shift
    bad=0
    total=0
    total_cpu=0
    printf '\n%-24s %-8s %12s %12s\n' "stage" "result" "wall time" "CPU time"
    printf '%-24s %-8s %12s %12s\n' "------------------------" "--------" "------------" "------------"
    for name in "$@"; do
      # The last record of the stage wins.
      line=$(grep -E "^$name " "$STAGE_TIMES" 2>/dev/null | tail -n 1)
      if [ -z "$line" ]; then
        printf '%-24s %-8s %12s %12s\n' "$name" "not run" "-" "-"
        bad=1
        continue
      fi
      read -r _ result took cpu <<<"$line"
      cpu=${cpu:-0}
      [ "$result" = ok ] || bad=1
      total=$(awk -v a="$total" -v b="$took" 'BEGIN { printf "%.1f", a + b }')
      total_cpu=$(awk -v a="$total_cpu" -v b="$cpu" 'BEGIN { printf "%.1f", a + b }')
      printf '%-24s %-8s %12s %12s\n' "$name" "$result" "$(human "$took")" "$(human "$cpu")"
    done
    printf '%-24s %-8s %12s %12s\n' "sum of the stages" "" "$(human "$total")" "$(human "$total_cpu")"
    # Stages run in parallel lanes (make test): the wall clock is what counts.
    if [ -s "$STAGE_TIMES.start" ]; then
      printf '%-24s %-8s %12s\n' "elapsed" "" "$(human "$(elapsed "$(cat "$STAGE_TIMES.start")" "$(now)")")"
    fi
    # The whole machine's CPUs over the run, containers included (which the
    # stages' CPU column leaves out): near 100 % the run is CPU-bound and only
    # less work shortens it; far below, it waited and more lanes would help.
    if [ -s "$STAGE_TIMES.cpu" ]; then
      read -r busy0 idle0 <"$STAGE_TIMES.cpu"
      read -r busy1 idle1 < <(machine_cpu)
      awk -v b=$((busy1 - busy0)) -v i=$((idle1 - idle0)) -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" 'BEGIN {
        if (b + i > 0) printf "%-24s %-8s %12s  %.0f %% of %d CPUs busy, containers included\n", "machine CPU", "", sprintf("%d min %02d s", int(b / hz / 60), int(b / hz) % 60), 100 * b / (b + i), n }'
    fi
    exit "$bad"
    ;;
  *)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
