#!/usr/bin/env bash
# scripts/preflight.sh TARGET: the first step of make venv, images, demo and
# test. Checks that the system packages TARGET needs are there (the list is in
# scripts/deps.sh) and, when one is not, names it and the command that
# installs it, instead of a bare "Error 127" halfway through the target.
set -euo pipefail
here=${BASH_SOURCE[0]%/*}
[ "$here" != "${BASH_SOURCE[0]}" ] || here=.
target=${1:?usage: scripts/preflight.sh venv|check|images|demo|test|load}

rc=0
missing=$("$BASH" "$here/deps.sh" --missing "$target") || rc=$?
[ "$rc" != 0 ] || exit 0
[ "$rc" = 1 ] || exit "$rc"  # a usage error, already reported
# Bash only from here: PATH may lack even coreutils' less common tools.
packages=""
while IFS= read -r line; do
  package=${line%%:*}
  case " $packages " in *" $package "*) ;; *) packages+="${packages:+ }$package" ;; esac
done <<<"$missing"
{
  echo "preflight: make $target needs system packages that are not installed:"
  while IFS= read -r line; do echo "  - $line"; done <<<"$missing"
  echo "Install them with:  sudo make deps"
  echo "               or:  sudo apt-get install -y $packages"
} >&2
exit 1
