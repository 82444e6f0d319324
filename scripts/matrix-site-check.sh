#!/usr/bin/env bash
# scripts/matrix-site-check.sh: `site.yml --check --diff` against a fresh,
# throwaway gateway host container, with the ansible-playbook first on PATH
# (make matrix-oldest / matrix-newest put the matrix's ansible-core there).
# Proves that the whole play, preflight included, runs in check mode on that
# ansible-core: fails nothing and changes nothing it should not.
#
# The host is a Debian 13 systemd container like the demo's, in the demo
# inventory's compose mode; the container is removed whatever the result.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SACRED_BRAIN_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/sacred-brain-llm-gateway}"
version=$(python -c 'import ansible; print(ansible.__version__)')
name=sb-matrix-${version//./-}
image=sacred-brain/debian-systemd:trixie
work=$(mktemp -d)
cleanup() { docker rm -f --volumes "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

scripts/ensure-docker.sh
docker rm -f --volumes "$name" >/dev/null 2>&1 || true
docker run --detach --name "$name" --hostname "$name" --cgroupns host \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  --cap-add SYS_ADMIN --cap-add NET_ADMIN \
  --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
  --volume /sys/fs/cgroup:/sys/fs/cgroup:rw \
  "$image" /lib/systemd/systemd >/dev/null
docker exec "$name" systemctl is-system-running --wait >/dev/null 2>&1 || true

# The demo inventory's variables, with this container as its only gateway.
mkdir -p "$work/inventory"
ln -s "$PWD/inventories/demo/group_vars" "$work/inventory/group_vars"
printf 'gateways:\n  hosts:\n    %s:\n      ansible_connection: community.docker.docker\n' "$name" \
  >"$work/inventory/hosts.yml"

ansible-playbook -i "$work/inventory" site.yml --check --diff >"$work/out" 2>&1 || {
  tail -n 60 "$work/out"
  echo "site.yml --check --diff on ansible-core $version: FAILED" >&2
  exit 1
}
grep -A3 '^PLAY RECAP' "$work/out"
grep -Eq "$name +: ok=[0-9]+ +changed=[0-9]+ +unreachable=0 +failed=0" "$work/out"
echo "site.yml --check --diff on ansible-core $version: ok"
