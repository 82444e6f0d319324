#!/usr/bin/env bash
# The system packages this project's make targets need, in ONE list, and the
# way to install them (Debian 12/13, as root):
#
#   scripts/deps.sh                  install every missing package (make deps)
#   scripts/deps.sh --missing TARGET...
#                                    print the missing packages that TARGET
#                                    needs (venv, check, images, demo, test,
#                                    load), one line each, "package: what";
#                                    exit 1 when any is missing
#   scripts/deps.sh --list           print the list
#
# scripts/preflight.sh (the first step of make images, demo, test) reads the
# same list through --missing, so a package is added here and nowhere else.
set -euo pipefail

# package        found when              needed by           what for
DEPS_LIST='
python3          cmd:python3             venv                the tooling venv (.venv)
python3-venv     py:ensurepip            venv                python3 -m venv (creates .venv)
make             cmd:make                venv                the make targets
git              cmd:git                 load                scripts/test-under-load.sh clones main
docker.io        cmd:docker              images              the Docker client
docker.io        cmd:dockerd             images              the Docker engine (scripts/ensure-docker.sh starts it)
debootstrap      cmd:debootstrap         images              the systemd base images (tests/images/build.sh)
curl             cmd:curl                test                health checks of the real admin API harness
postgresql       pg:initdb               test                PostgreSQL server binaries for the real admin API harness
postgresql       pg:pg_ctl               test                PostgreSQL server binaries for the real admin API harness
nodejs           cmd:node                test                the Prisma query engine shim of the real admin API harness
npm              cmd:npm                 test                the Prisma CLI of the real admin API harness
stress-ng        cmd:stress-ng           load                the CPU load of scripts/test-under-load.sh
'

# What each target needs: its own packages and those of the targets it runs.
needs_of() {
  case "$1" in
    venv|check) echo venv ;;
    images|demo) echo venv images ;;
    test) echo venv images test ;;
    load) echo venv images test load ;;
    all) echo venv images test load ;;
    *) echo "deps.sh: unknown target '$1' (venv, check, images, demo, test, load, all)" >&2; return 2 ;;
  esac
}

# Is the thing a list entry names there?
found() {
  local how=${1%%:*} what=${1#*:}
  case "$how" in
    cmd) command -v "$what" >/dev/null 2>&1 ;;
    # Debian strips ensurepip from python3 unless python3-venv is installed.
    py) command -v python3 >/dev/null 2>&1 && python3 -c "import $what" >/dev/null 2>&1 ;;
    # Debian's PostgreSQL server binaries are not on PATH.
    pg) command -v "$what" >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/$what" >/dev/null ;;
    *) echo "deps.sh: bad check '$1'" >&2; return 2 ;;
  esac
}

# Print "package: what for" for every missing entry the given targets need.
missing() {
  local groups=" " target package check group purpose
  for target in "$@"; do groups+="$(needs_of "$target") " || return 2; done
  while read -r package check group purpose; do
    [ -n "$package" ] || continue
    case "$groups" in *" $group "*) ;; *) continue ;; esac
    found "$check" || echo "$package: $purpose (${check#*:} not found)"
  done <<<"$DEPS_LIST"
}

case "${1:-}" in
  --list)
    printf '%s\n' "$DEPS_LIST" | sed '/^$/d'
    ;;
  --missing)
    shift
    [ $# -gt 0 ] || set -- all
    out=$(missing "$@") || exit 2
    [ -z "$out" ] || { printf '%s\n' "$out"; exit 1; }
    ;;
  "")
    packages=$(missing all | cut -d: -f1 | sort -u | tr '\n' ' ')
    if [ -z "${packages// /}" ]; then
      echo "[deps] every system package is there"
      exit 0
    fi
    if [ "$(id -u)" != 0 ]; then
      echo "[deps] missing: $packages" >&2
      echo "[deps] run as root: sudo make deps   (or: sudo apt-get install -y $packages)" >&2
      exit 1
    fi
    echo "[deps] installing: $packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086  # one word per package
    apt-get install -y -qq --no-install-recommends $packages >/dev/null
    still=$(missing all || true)
    [ -z "$still" ] || { echo "[deps] still missing after apt-get install:" >&2; printf '  %s\n' "$still" >&2; exit 1; }
    echo "[deps] done"
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
