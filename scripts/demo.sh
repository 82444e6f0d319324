#!/usr/bin/env bash
# make demo: a disposable local container as the gateway host, provisioned by
# playbooks/site.yml through inventories/demo (compose mode, the default).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SACRED_BRAIN_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/sacred-brain-llm-gateway}"
export SACRED_BRAIN_CACHE
NAME=litellm-demo
IMAGE=sacred-brain/debian-systemd:trixie

scripts/ensure-docker.sh
PYTHON="$PWD/.venv/bin/python" tests/images/build.sh all >/dev/null

if ! docker container inspect "$NAME" >/dev/null 2>&1; then
  echo "[demo] starting the gateway host container $NAME"
  # Docker-in-Docker needs systempaths=unconfined and these capabilities
  # (see docs/development.md); --privileged does not work on these machines.
  docker run --detach --name "$NAME" --hostname "$NAME" --cgroupns host \
    --security-opt systempaths=unconfined --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    $(printf -- '--cap-add=%s ' AUDIT_CONTROL AUDIT_READ BLOCK_SUSPEND DAC_READ_SEARCH IPC_LOCK IPC_OWNER LEASE \
      LINUX_IMMUTABLE MAC_ADMIN MAC_OVERRIDE NET_ADMIN NET_BROADCAST SYS_ADMIN SYS_BOOT SYS_MODULE SYS_NICE \
      SYS_PACCT SYS_PTRACE SYS_RAWIO SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM) \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
    --volume /sys/fs/cgroup:/sys/fs/cgroup:rw --volume /var/lib/docker \
    --volume "$SACRED_BRAIN_CACHE/litellm-1.108.7.tar:/srv/images/litellm-1.108.7.tar:ro" \
    "$IMAGE" /lib/systemd/systemd >/dev/null
elif [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" != true ]; then
  docker start "$NAME" >/dev/null
fi
docker exec "$NAME" systemctl is-system-running --wait >/dev/null || true

echo "[demo] provisioning $NAME with playbooks/site.yml"
.venv/bin/ansible-playbook -i inventories/demo playbooks/site.yml

echo
echo "[demo] a chat completion through the gateway, from inside $NAME:"
docker exec "$NAME" sh -c '. /etc/litellm/keys.env; curl -sS http://127.0.0.1:4000/v1/chat/completions \
  -H "Authorization: Bearer $LITELLM_MASTER_KEY" -H "Content-Type: application/json" \
  -d "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": \"Say hi\"}]}"' \
  | .venv/bin/python -c 'import json, sys; r = json.load(sys.stdin); print("  model:", r["model"]); print("  reply:", r["choices"][0]["message"]["content"])'
cat <<MSG

[demo] The gateway listens on 127.0.0.1:4000 inside the container $NAME.
  Reach it:  docker exec -it $NAME bash   then
             curl -H "Authorization: Bearer \$(sed -n 's/^LITELLM_MASTER_KEY=//p' /etc/litellm/keys.env)" http://127.0.0.1:4000/v1/models
  Re-run:    make demo   (a second run changes nothing)
  Remove:    docker rm -f --volumes $NAME
MSG
