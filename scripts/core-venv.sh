#!/usr/bin/env bash
# scripts/core-venv.sh VERSION [PYTHON_VERSION]: print the path of a virtual
# environment that holds ansible-core==VERSION on Python PYTHON_VERSION (default:
# the python3 on PATH), creating it first when it is not there yet. A Python
# found neither on PATH nor under pyenv is an error, never a skip.
#
# The support matrix (make matrix) runs the fast tier of tests on the oldest and
# the newest supported ansible-core. Each version gets its own venv, built once
# and kept under $SACRED_BRAIN_CACHE/ansible-core-VERSION-pyX.Y (shared by every
# checkout on the machine), so a second run costs nothing.
#
# On the Python of the project's .venv, the venv holds ansible-core and its own
# dependencies only. The test tooling
# (pytest, pytest-xdist, LiteLLM for the admin-API stand-in) and the collections
# this one depends on (from the ansible package) come from the project's .venv:
# a .pth line appends the site-packages named by $SACRED_BRAIN_TOOLS_SITE to
# sys.path *after* the venv's own, so `import ansible` is always this venv's
# ansible-core. Without that variable the venv is a plain ansible-core venv.
# On another Python (.venv's packages cannot be shared across versions) the
# venv also gets pytest and pytest-xdist at the versions requirements-dev.txt
# pins, and no LiteLLM: make matrix-newest runs the tests that need no stand-in.
set -euo pipefail
version=${1:?usage: scripts/core-venv.sh ANSIBLE_CORE_VERSION [PYTHON_VERSION]}
root=$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)
python=python3
if [ -n "${2:-}" ]; then
  python=""
  for candidate in "$(command -v "python$2" || true)" "$HOME"/.pyenv/versions/"$2".*/bin/"python$2"; do
    [ -n "$candidate" ] && "$candidate" -c '' 2>/dev/null && { python=$candidate; break; }
  done
  [ -n "$python" ] || { echo "core-venv: no Python $2 on PATH or under ~/.pyenv/versions" >&2; exit 1; }
fi
cache=${SACRED_BRAIN_CACHE:-$HOME/.cache/sacred-brain-llm-gateway}
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv=$cache/ansible-core-$version-py$pyver

if [ ! -e "$venv/.installed" ]; then
  echo "core-venv: building $venv" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python" -m venv "$venv"
  extra=()
  if [ -n "${2:-}" ]; then
    extra=($(grep -E '^(pytest|pytest-xdist)==' "$root/requirements-dev.txt"))
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$version" "${extra[@]}" 2>&1 \
    | grep -v '^WARNING: Location' >&2 || true
  "$venv/bin/python" -c "import ansible; assert ansible.__version__ == '$version'"
  site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  # Executed by site.py at start-up: append the tools' site-packages, if named.
  echo 'import os, site; p = os.environ.get("SACRED_BRAIN_TOOLS_SITE"); p and site.addsitedir(p)' \
    >"$site/zz_sacred_brain_tools.pth"
  touch "$venv/.installed"
fi
echo "$venv"
