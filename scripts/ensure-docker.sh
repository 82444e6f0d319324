#!/usr/bin/env bash
# Make sure a Docker engine answers: install docker.io if the client or the
# daemon is missing (needs root), and start dockerd in the background when
# there is no systemd to do it.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "Docker is not installed and this is not root: install docker.io first" >&2; exit 1; fi
  echo "[docker] installing docker.io" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    echo "[docker] starting dockerd (log: /var/log/dockerd.log)" >&2
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
docker info >/dev/null 2>&1 || { echo "Docker engine did not come up; see /var/log/dockerd.log" >&2; exit 1; }
