#!/usr/bin/env bash
# LiteLLM's real admin API on a real, throwaway PostgreSQL, for tests,
# benchmarks and people:
#
#   scripts/real-admin-api.sh start            # prints LITELLM_TEST_URL=... and LITELLM_TEST_MASTER_KEY=...
#   scripts/real-admin-api.sh stop             # stops it and removes its data
#   scripts/real-admin-api.sh status           # exit 0 when it answers /health/readiness with the database connected
#   scripts/real-admin-api.sh exec -- CMD ...  # start, run CMD with the two variables exported, stop; CMD's exit code
#
# Environment: PORT (default 4400), LITELLM_MASTER_KEY (generated when unset),
# LITELLM_EXTRA_CONFIG (a YAML file of further top-level config.yaml sections),
# LITELLM_POLICY_CONFIG (a YAML file of config.yaml sections: a second proxy with
# these on POLICY_PORT, default PORT+1, database of its own, same master key;
# prints LITELLM_TEST_POLICY_URL=...), LITELLM_NODB=1 (a third proxy without a
# database on NODB_PORT, default PORT+2; prints LITELLM_TEST_NODB_URL=...),
# WEBHOOK_PORT (default PORT+9: the proxies' WEBHOOK_URL, where a test receives alerts;
# prints LITELLM_TEST_WEBHOOK_URL=...),
# REAL_API_DIR (state; default $TMPDIR/sacred-brain-real-api-$PORT),
# PYTHON (default .venv/bin/python: litellm[proxy] and prisma from requirements-dev.txt).
#
# These machines cannot download Prisma's native engines, so prisma-client-py's
# query engine is tests/realapi/engine-shim: Prisma's own engine (same build,
# compiled to WebAssembly) behind the HTTP protocol the native binary speaks.
# The schema comes from the SQL migrations LiteLLM ships (litellm-proxy-extras).
# See tests/realapi/README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-4400}
POLICY_PORT=${POLICY_PORT:-$((PORT + 1))}
NODB_PORT=${NODB_PORT:-$((PORT + 2))}
WEBHOOK_PORT=${WEBHOOK_PORT:-$((PORT + 9))}
PYTHON=${PYTHON:-$here/.venv/bin/python}
CACHE_DIR=${SACRED_BRAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sacred-brain-llm-gateway}
STATE=${REAL_API_DIR:-${TMPDIR:-/tmp}/sacred-brain-real-api-$PORT}
READY_DEADLINE=${READY_DEADLINE:-600}   # seconds; a cold start on a loaded 2-core machine takes minutes
PG_OS_USER=nobody                       # initdb refuses root; the cluster's files belong to nobody, in STATE

log() { printf '[real-admin-api] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

need() {   # command, Debian package
  command -v "$1" >/dev/null 2>&1 || die "'$1' is missing: install it with 'apt-get install -y $2' (or run 'make deps')"
}

pg_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    [ -x "$dir/initdb" ] && { echo "$dir"; return; }
  done
  die "PostgreSQL's server programs (initdb, pg_ctl) are missing: install them with 'apt-get install -y postgresql' (or run 'make deps')"
}

as_pg() {   # run a command as the cluster's owner
  if [ "$(id -u)" = 0 ]; then setpriv --reuid="$PG_OS_USER" --regid=nogroup --clear-groups -- "$@"; else "$@"; fi
}

site_packages() { "$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

# --- 1. the engine shim and the Prisma CLI, installed once per lock file -------------
# shellcheck source=scripts/npm-install.sh
. "$here/scripts/npm-install.sh"

prisma_env() {   # exported for `prisma generate` and the proxy
  local shim=$1 cli=$2
  export PRISMA_QUERY_ENGINE_BINARY="$shim/query-engine"
  export PRISMA_SCHEMA_ENGINE_BINARY="$shim/schema-engine-stub"
  export PRISMA_CLI_BINARY_TARGETS=native
  export PRISMA_HIDE_UPDATE_MESSAGE=1 CHECKPOINT_DISABLE=1 PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING=1
  # prisma-client-py runs the CLI from <PRISMA_HOME_DIR>/.cache/prisma-python/binaries/<cli version>/<engine hash>
  export PRISMA_HOME_DIR="$STATE/prisma-home"
  local version hash
  read -r version hash < <("$PYTHON" -c 'from prisma._config import Config; c = Config.load(); print(c.prisma_version, c.expected_engine_version)')
  local cache="$PRISMA_HOME_DIR/.cache/prisma-python/binaries/$version/$hash"
  mkdir -p "$(dirname "$cache")"
  ln -sfn "$cli" "$cache"
  [ -f "$cli/node_modules/prisma/package.json" ] \
    && grep -q "\"version\": \"$version\"" "$cli/node_modules/prisma/package.json" \
    || die "prisma-client-py wants Prisma CLI $version; tests/realapi/prisma-cli/package.json pins another"
}

# --- 2. the Python client, generated once per schema ----------------------------------
generate_client() {
  local site schema sum
  site=$(site_packages)
  schema="$site/litellm/proxy/schema.prisma"
  sum=$( { sha256sum "$schema"; "$PYTHON" -m pip show prisma 2>/dev/null | grep ^Version; } | sha256sum | cut -c1-16)
  if [ "$(cat "$site/prisma/.sacred-brain-generated" 2>/dev/null)" = "$sum" ] && [ -f "$site/prisma/client.py" ]; then
    return
  fi
  log "prisma generate (LiteLLM's schema, without its binaryTargets: the engine is the shim)"
  mkdir -p "$STATE/generate"
  sed 's/^\s*binaryTargets.*$//' "$schema" > "$STATE/generate/schema.prisma"
  (cd "$STATE/generate" && PATH="$(dirname "$PYTHON"):$PATH" "$PYTHON" -m prisma generate --schema schema.prisma >"$STATE/generate.log" 2>&1) \
    || { tail -30 "$STATE/generate.log" >&2; die "prisma generate failed (log: $STATE/generate.log)"; }
  echo "$sum" > "$site/prisma/.sacred-brain-generated"
}

# --- 3. PostgreSQL: a cluster of its own, password auth on loopback ------------------
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_postgres() {
  local bin=$1 pgport password
  pgport=$(free_port)
  password=$("$PYTHON" -c 'import secrets; print(secrets.token_hex(16))')
  mkdir -p "$STATE/pg"
  chmod 0711 "$STATE"
  [ "$(id -u)" = 0 ] && chown "$PG_OS_USER" "$STATE/pg"
  umask 077
  printf '%s\n' "$password" > "$STATE/pg/pwfile"
  [ "$(id -u)" = 0 ] && chown "$PG_OS_USER" "$STATE/pg/pwfile"
  as_pg "$bin/initdb" -D "$STATE/pg/data" -U postgres --pwfile="$STATE/pg/pwfile" --auth=scram-sha-256 \
    -E UTF8 --no-sync >"$STATE/initdb.log" 2>&1 || { cat "$STATE/initdb.log" >&2; die "initdb failed"; }
  rm -f "$STATE/pg/pwfile"
  as_pg "$bin/pg_ctl" -D "$STATE/pg/data" -l "$STATE/pg/server.log" -w -t 300 \
    -o "-p $pgport -k $STATE/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { tail -20 "$STATE/pg/server.log" >&2; die "PostgreSQL did not start"; }
  echo "$pgport" > "$STATE/pg/port"
  export PGHOST=127.0.0.1 PGPORT=$pgport PGUSER=postgres PGPASSWORD=$password
  psql -q -d postgres -c 'create database litellm' >/dev/null
  export DATABASE_URL="postgresql://postgres:$password@127.0.0.1:$pgport/litellm"
}

apply_migrations() {   # LiteLLM's own SQL, in order, in one psql session (some use CREATE INDEX CONCURRENTLY: no single transaction)
  local dir
  dir="$(site_packages)/litellm_proxy_extras/migrations"
  [ -d "$dir" ] || die "litellm-proxy-extras' migrations are missing in $dir"
  # One migration folder name contains spaces: NUL-separated, sorted.
  find "$dir" -mindepth 2 -maxdepth 2 -name migration.sql -print0 | sort -z \
    | xargs -0 cat | psql -q -v ON_ERROR_STOP=1 -d litellm >"$STATE/migrations.log" 2>&1 \
    || { tail -20 "$STATE/migrations.log" >&2; die "applying LiteLLM's migrations failed"; }
}

# --- 4. the proxies ---------------------------------------------------------------------
write_config() {   # name, extra config file (may be empty)
  cat > "$STATE/$1.yaml" <<'EOF'
# Written by scripts/real-admin-api.sh: every model answers from mock_response, no provider is called.
model_list:
  - model_name: fake-model
    litellm_params:
      model: openai/fake-model
      api_key: sk-fake-not-used
      mock_response: "Hello from the mock model"
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: sk-fake-not-used
      mock_response: "Hello from the mock model"
EOF
  # The extra file's sections are merged in (one level deep); the connection settings are always these.
  "$PYTHON" - "$STATE/$1.yaml" "$2" <<'PY'
import sys, yaml
path, extra = sys.argv[1], sys.argv[2]
config = yaml.safe_load(open(path))
extra_config = (yaml.safe_load(open(extra)) or {}) if extra else {}
for section, values in extra_config.items():
    config[section] = {**config.get(section, {}), **values} if isinstance(values, dict) else values
config.setdefault("general_settings", {}).update(master_key="os.environ/LITELLM_MASTER_KEY", database_url="os.environ/DATABASE_URL")
yaml.safe_dump(config, open(path, "w"), sort_keys=False)
PY
}

readiness() { curl -fsS --max-time 10 "http://127.0.0.1:$1/health/readiness" 2>/dev/null; }

launch() {   # name, port, database ("" for none)
  log "starting LiteLLM '$1' on 127.0.0.1:$2 (log: $STATE/$1.log)"
  local database=(env DATABASE_URL="$DATABASE_BASE/$3")
  [ -n "$3" ] || database=(env -u DATABASE_URL)
  # setsid: the proxy and the engine shim it spawns form one process group, stopped together.
  (cd "$STATE" && exec "${database[@]}" setsid "$PYTHON" -m litellm.proxy.proxy_cli \
      --config "$STATE/$1.yaml" --host 127.0.0.1 --port "$2" >"$STATE/$1.log" 2>&1 < /dev/null) &
  echo $! > "$STATE/$1.pid"
}

wait_ready() {   # name, port, what readiness must say
  local deadline=$((SECONDS + READY_DEADLINE)) body="" want=${3:-'"db":"connected"'}
  until body=$(readiness "$2") && [[ $body == *"$want"* ]]; do
    kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null || { tail -40 "$STATE/$1.log" >&2; stop_quietly; die "the proxy '$1' exited"; }
    [ $SECONDS -lt $deadline ] || { tail -40 "$STATE/$1.log" >&2; stop_quietly; die "'$1' not ready after ${READY_DEADLINE}s: $body"; }
    sleep 1
  done
  log "'$1' ready: $body"
}

port_free() { ! curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$1/"; }

start() {
  need node nodejs; need npm npm; need psql postgresql-client; need curl curl; need setpriv util-linux
  local bin shim cli
  bin=$(pg_bin)
  [ -x "$PYTHON" ] || die "$PYTHON is missing: run 'make venv' first"
  "$PYTHON" -c 'import litellm.proxy, prisma' 2>/dev/null \
    || die "$PYTHON lacks litellm[proxy] or prisma: run 'make venv' (requirements-dev.txt)"
  if [ -f "$STATE/main.pid" ] && kill -0 "$(cat "$STATE/main.pid")" 2>/dev/null; then
    die "already running from $STATE: run '$0 stop' first"
  fi
  port_free "$PORT" || die "port $PORT is taken by another process: set PORT"
  if [ -n "${LITELLM_NODB:-}" ]; then
    port_free "$NODB_PORT" || die "port $NODB_PORT is taken by another process: set NODB_PORT"
  fi
  if [ -n "${LITELLM_POLICY_CONFIG:-}" ]; then
    [ -f "$LITELLM_POLICY_CONFIG" ] || die "LITELLM_POLICY_CONFIG=$LITELLM_POLICY_CONFIG: no such file"
    port_free "$POLICY_PORT" || die "port $POLICY_PORT is taken by another process: set POLICY_PORT"
  fi
  rm -rf "$STATE"; mkdir -p "$STATE"; chmod 0700 "$STATE"
  shim=$(npm_install "$here/tests/realapi/engine-shim")
  cli=$(npm_install "$here/tests/realapi/prisma-cli")
  prisma_env "$shim" "$cli"
  generate_client
  start_postgres "$bin"
  apply_migrations
  export LITELLM_MASTER_KEY=${LITELLM_MASTER_KEY:-sk-$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')}
  export LITELLM_SALT_KEY=${LITELLM_SALT_KEY:-sk-$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')}
  # Mandatory: otherwise LiteLLM runs `prisma migrate deploy`, which needs the native schema engine.
  export DISABLE_SCHEMA_UPDATE=true
  export LITELLM_LOCAL_MODEL_COST_MAP=True
  # Where a proxy whose config enables general_settings.alerting: [webhook] posts its alerts
  # (LiteLLM reads WEBHOOK_URL when it sends one); a test listens there (LITELLM_TEST_WEBHOOK_URL).
  export WEBHOOK_URL="http://127.0.0.1:$WEBHOOK_PORT/litellm-alerts"
  export PATH="$(dirname "$PYTHON"):$PATH"
  DATABASE_BASE=${DATABASE_URL%/*}
  write_config main "${LITELLM_EXTRA_CONFIG:-}"
  launch main "$PORT" litellm
  if [ -n "${LITELLM_POLICY_CONFIG:-}" ]; then
    # A second proxy with key policies in its config, on a database of its own (a copy of the schema).
    psql -q -d postgres -c 'create database litellm_policy template litellm' >/dev/null
    write_config policy "$LITELLM_POLICY_CONFIG"
    launch policy "$POLICY_PORT" litellm_policy
  fi
  if [ -n "${LITELLM_NODB:-}" ]; then
    # A third proxy without any database: what a gateway without PostgreSQL answers.
    write_config nodb ""
    "$PYTHON" - "$STATE/nodb.yaml" <<'PY'
import sys, yaml
path = sys.argv[1]
config = yaml.safe_load(open(path))
del config["general_settings"]["database_url"]
yaml.safe_dump(config, open(path, "w"), sort_keys=False)
PY
    launch nodb "$NODB_PORT" ""
  fi
  wait_ready main "$PORT"
  [ -z "${LITELLM_POLICY_CONFIG:-}" ] || wait_ready policy "$POLICY_PORT"
  [ -z "${LITELLM_NODB:-}" ] || wait_ready nodb "$NODB_PORT" '"status":"healthy"'
  umask 077
  {
    printf 'LITELLM_TEST_URL=http://127.0.0.1:%s\nLITELLM_TEST_MASTER_KEY=%s\n' "$PORT" "$LITELLM_MASTER_KEY"
    printf 'LITELLM_TEST_WEBHOOK_URL=%s\n' "$WEBHOOK_URL"
    [ -z "${LITELLM_POLICY_CONFIG:-}" ] || printf 'LITELLM_TEST_POLICY_URL=http://127.0.0.1:%s\n' "$POLICY_PORT"
    [ -z "${LITELLM_NODB:-}" ] || printf 'LITELLM_TEST_NODB_URL=http://127.0.0.1:%s\n' "$NODB_PORT"
  } | tee "$STATE/env"
}

stop_quietly() {
  local pid pidfile
  for pidfile in "$STATE"/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if [ -f "$STATE/pg/data/postmaster.pid" ]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$STATE/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$STATE"
}

case "${1:-}" in
  start) start ;;
  stop) stop_quietly; log "stopped; $STATE removed" ;;
  status) body=$(readiness "$PORT") && [[ $body == *'"db":"connected"'* ]] && echo "$body" ;;
  exec)
    shift; [ "${1:-}" = -- ] && shift
    [ $# -gt 0 ] || die "usage: $0 exec -- COMMAND [ARGS...]"
    trap stop_quietly EXIT
    env_lines=$(start)
    while IFS='=' read -r name value; do export "$name=$value"; done <<<"$env_lines"
    set +e; "$@"; rc=$?; set -e
    exit $rc ;;
  *) echo "usage: $0 start|stop|status|exec -- COMMAND" >&2; exit 2 ;;
esac
