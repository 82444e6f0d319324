#!/usr/bin/env bash
# Build, once, an archive for `litellm_prisma_engines_archive` that lets a
# native gateway run Prisma with no access to binaries.prisma.sh:
#
#   node_modules/            the Prisma CLI that prisma-client-py 0.11.0 runs
#                            (prisma 5.4.2, installed without its engine download)
#   wasm-engine/query-engine Prisma's query engine build 393aa359 compiled to
#                            WebAssembly, behind the native engine's HTTP protocol
#                            (tests/realapi/engine-shim; runs on the host's Node.js)
#   wasm-engine/schema-engine-stub  answers --version only: there is no schema
#                            engine, so migrate with litellm_database_migrate_method: sql
#   SHA256SUMS               every file above
#
#   scripts/build-prisma-archive.sh            # prints the archive's path
#
# Both npm trees are installed with `npm ci` from the committed package-lock.json
# files (npm checks every package's integrity hash), in the same cache directories
# scripts/real-admin-api.sh uses ($SACRED_BRAIN_CACHE/realapi/), so a machine that
# ran the real-API tests builds the archive without the npm registry. The archive is
# rebuilt only when those inputs change; its sha256 is written beside it (.sha256),
# for litellm_prisma_engines_archive_checksum.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
CACHE_DIR=${SACRED_BRAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sacred-brain-llm-gateway}
ARCHIVE=${PRISMA_ARCHIVE:-$CACHE_DIR/prisma-engines-wasm.tar.gz}

log() { printf '[prisma-archive] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v npm >/dev/null 2>&1 || die "'npm' is missing: install it with 'apt-get install -y npm' (or run 'make deps')"

# shellcheck source=scripts/npm-install.sh
. "$here/scripts/npm-install.sh"

mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.prisma-archive.lock"
flock 9

shim=$(npm_install "$here/tests/realapi/engine-shim")
cli=$(npm_install "$here/tests/realapi/prisma-cli")
inputs="$(basename "$shim") $(basename "$cli") $(sha256sum "$0" | cut -c1-16)"
if [ -f "$ARCHIVE" ] && [ "$(cat "$ARCHIVE.inputs" 2>/dev/null)" = "$inputs" ]; then
  log "$ARCHIVE present"
  echo "$ARCHIVE"
  exit 0
fi

log "building $ARCHIVE"
stage=$(mktemp -d "$CACHE_DIR/prisma-archive.XXXX")
trap 'rm -rf "$stage"' EXIT
cp -a "$cli/node_modules" "$cli/package.json" "$stage/"
mkdir "$stage/wasm-engine"
cp -a "$shim/node_modules" "$shim/package.json" "$shim/shim.mjs" "$shim/query-engine" "$shim/schema-engine-stub" \
  "$stage/wasm-engine/"
(cd "$stage" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum > SHA256SUMS)
# Reproducible: same inputs, same bytes.
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --mode='u+rwX,go+rX,go-w' -c . \
  | gzip -n -9 > "$ARCHIVE.tmp"
mv "$ARCHIVE.tmp" "$ARCHIVE"
sha256sum "$ARCHIVE" | cut -d' ' -f1 > "$ARCHIVE.sha256"
echo "$inputs" > "$ARCHIVE.inputs"
log "sha256 $(cat "$ARCHIVE.sha256")"
echo "$ARCHIVE"
