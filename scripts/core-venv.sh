#!/usr/bin/env bash
# scripts/core-venv.sh VERSION: print the path of a virtual environment that
# holds ansible-core==VERSION, creating it first when it is not there yet.
#
# The support matrix (make matrix) runs the fast tier of tests on the oldest and
# the newest supported ansible-core. Each version gets its own venv, built once
# and kept under $SACRED_BRAIN_CACHE/ansible-core-VERSION-pyX.Y (shared by every
# checkout on the machine), so a second run costs nothing.
#
# The venv holds ansible-core and its own dependencies only. The test tooling
# (pytest, pytest-xdist, LiteLLM for the admin-API stand-in) and the collections
# this one depends on (from the ansible package) come from the project's .venv:
# a .pth line appends the site-packages named by $SACRED_BRAIN_TOOLS_SITE to
# sys.path *after* the venv's own, so `import ansible` is always this venv's
# ansible-core. Without that variable the venv is a plain ansible-core venv.
set -euo pipefail
version=${1:?usage: scripts/core-venv.sh ANSIBLE_CORE_VERSION}
python=${PYTHON:-python3}
cache=${SACRED_BRAIN_CACHE:-$HOME/.cache/sacred-brain-llm-gateway}
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv=$cache/ansible-core-$version-py$pyver

if [ ! -e "$venv/.installed" ]; then
  echo "core-venv: building $venv" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$version" >&2
  site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  # Executed by site.py at start-up: append the tools' site-packages, if named.
  echo 'import os, site; p = os.environ.get("SACRED_BRAIN_TOOLS_SITE"); p and site.addsitedir(p)' \
    >"$site/zz_sacred_brain_tools.pth"
  touch "$venv/.installed"
fi
echo "$venv"
