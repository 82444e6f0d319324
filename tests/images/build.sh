#!/usr/bin/env bash
# Build, only when missing, the images the tests and `make demo` use, offline
# from the Debian and PyPI mirrors:
#   sacred-brain/debian-systemd:bookworm   systemd base (venv scenario, demo)
#   sacred-brain/debian-systemd:trixie     systemd base (compose scenario)
#   sacred-brain/litellm:$LITELLM_VERSION  the proxy, same interface as the
#                                          official ghcr.io/berriai/litellm image
# and the wheelhouse and image archive they are made from, in $CACHE_DIR.
# Honours LITELLM_TEST_CA_BUNDLE for sites behind a TLS-intercepting proxy.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
LITELLM_VERSION=${LITELLM_VERSION:-1.108.7}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${LITELLM_TEST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
CACHE_DIR=${SACRED_BRAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sacred-brain-llm-gateway}
PYTHON=${PYTHON:-python3}
mkdir -p "$CACHE_DIR"

log() { printf '[images] %s\n' "$*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

build_systemd_base() {
  local suite=$1 tag="sacred-brain/debian-systemd:$1"
  if have_image "$tag"; then log "$tag present"; return; fi
  log "building $tag with debootstrap"
  local rootfs
  rootfs=$(mktemp -d "$CACHE_DIR/rootfs-$suite.XXXX")
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,curl,iproute2,procps \
    "$suite" "$rootfs" "$DEBIAN_MIRROR" >"$CACHE_DIR/debootstrap-$suite.log" 2>&1
  # Units that cannot work in a container and would leave the system degraded.
  for unit in systemd-modules-load.service getty@tty1.service systemd-remount-fs.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
  done
  # Trust the site's CA bundle (TLS-intercepting proxies), in the way that
  # survives update-ca-certificates.
  if [ -f "$CA_BUNDLE" ]; then
    install -m 0644 "$CA_BUNDLE" "$rootfs/usr/local/share/ca-certificates/site-bundle.crt"
    install -m 0644 "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  fi
  echo "deb $DEBIAN_MIRROR $suite main" >"$rootfs/etc/apt/sources.list"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | docker import -c 'CMD ["/lib/systemd/systemd"]' \
    -c 'ENV container=docker' - "$tag" >/dev/null
  rm -rf "$rootfs"
}

# The requirements of every scenario's venv, prisma included (the database
# scenario's native gateway); must match roles/litellm_venv/defaults.
PRISMA_REQUIREMENT="prisma==0.11.0"

build_wheelhouse() {
  local dir="$CACHE_DIR/wheelhouse-$LITELLM_VERSION"
  # async-timeout: required on Debian 12's Python 3.11.2 only.
  local requirements=("litellm[proxy]==$LITELLM_VERSION" "$PRISMA_REQUIREMENT" pip setuptools wheel "async-timeout>=4.0.3")
  if [ "$(cat "$dir/.complete" 2>/dev/null)" = "${requirements[*]}" ]; then log "wheelhouse present"; return; fi
  log "building wheelhouse for ${requirements[*]}"
  # Wheels already there are reused through --find-links.
  mkdir -p "$dir"
  PIP_CERT="$CA_BUNDLE" "$PYTHON" -m pip wheel -q --wheel-dir "$dir" --find-links "$dir" "${requirements[@]}"
  echo "${requirements[*]}" >"$dir/.complete"
}

# `docker save` an image, atomically, for the scenarios that load it: again
# whenever the tag names another image than the archive holds (rebuilt).
save_archive() {
  local tag=$1 archive=$2 id
  id=$(docker image inspect -f '{{.Id}}' "$tag")
  if [ ! -f "$archive" ] || [ "$(cat "$archive.id" 2>/dev/null)" != "$id" ]; then
    log "saving $tag to $archive"
    docker save -o "$archive.tmp" "$tag" && mv "$archive.tmp" "$archive"
    echo "$id" >"$archive.id"
  fi
}

# What the proxy image is made of; a change rebuilds it (the image carries it
# as a label). The Prisma CLI comes from tests/realapi/prisma-cli's lock file
# (npm ci, integrity checked), installed once under $CACHE_DIR/realapi.
build_litellm_image() {
  local tag="sacred-brain/litellm:$LITELLM_VERSION" cli inputs
  # shellcheck source=scripts/npm-install.sh
  . "$here/../../scripts/npm-install.sh"
  cli=$(npm_install "$here/../realapi/prisma-cli")
  inputs="$(cat "$here/litellm.Dockerfile" "$CACHE_DIR/wheelhouse-$LITELLM_VERSION/.complete" | sha256sum | cut -c1-16)"
  inputs="$inputs $PRISMA_REQUIREMENT $(basename "$cli")"
  if [ "$(docker image inspect -f '{{ index .Config.Labels "org.sacred-brain.inputs" }}' "$tag" 2>/dev/null)" != "$inputs" ]; then
    log "building $tag ($inputs)"
    local ctx
    ctx=$(mktemp -d "$CACHE_DIR/ctx.XXXX")
    cp "$here/litellm.Dockerfile" "$ctx/Dockerfile"
    ln "$CACHE_DIR/wheelhouse-$LITELLM_VERSION"/*.whl "$ctx/" 2>/dev/null \
      || cp "$CACHE_DIR/wheelhouse-$LITELLM_VERSION"/*.whl "$ctx/"
    mkdir "$ctx/prisma-cli"
    cp -a "$cli/node_modules" "$cli/package.json" "$ctx/prisma-cli/"
    docker build -q --build-arg "LITELLM_VERSION=$LITELLM_VERSION" --build-arg "PRISMA_REQUIREMENT=$PRISMA_REQUIREMENT" \
      --label "org.sacred-brain.inputs=$inputs" -t "$tag" "$ctx" >/dev/null
    rm -rf "$ctx"
  else
    log "$tag present"
  fi
  save_archive "$tag" "$CACHE_DIR/litellm-$LITELLM_VERSION.tar"
}

# sacred-brain/postgres:$POSTGRES_MAJOR: Debian's PostgreSQL with the official
# postgres image's interface (POSTGRES_USER/PASSWORD/DB, PGDATA, pg_isready),
# for the compose-mode database (litellm_database_mode: compose), and its
# `docker save` archive in $CACHE_DIR.
build_postgres_image() {
  local major=${POSTGRES_MAJOR:-15}
  local tag="sacred-brain/postgres:$major"
  if ! have_image "$tag"; then
    log "building $tag"
    local ctx
    ctx=$(mktemp -d "$CACHE_DIR/ctx.XXXX")
    cp "$here/postgres.Dockerfile" "$ctx/Dockerfile"
    cp "$here/postgres-entrypoint.sh" "$ctx/docker-entrypoint.sh"
    docker build -q --build-arg "PG_MAJOR=$major" -t "$tag" "$ctx" >/dev/null
    rm -rf "$ctx"
  else
    log "$tag present"
  fi
  save_archive "$tag" "$CACHE_DIR/postgres-$major.tar"
}

# The offline Prisma archive of the database scenario's native gateway (the
# Prisma CLI and the WebAssembly query engine): scripts/build-prisma-archive.sh.
build_prisma_archive() {
  SACRED_BRAIN_CACHE="$CACHE_DIR" "$here/../../scripts/build-prisma-archive.sh" >/dev/null
}

case "${1:-all}" in
  bookworm|trixie) build_systemd_base "$1" ;;
  litellm) build_systemd_base bookworm; build_wheelhouse; build_litellm_image ;;
  wheelhouse) build_wheelhouse ;;
  postgres) build_systemd_base bookworm; build_postgres_image ;;
  prisma) build_prisma_archive ;;
  all)
    build_systemd_base bookworm
    build_systemd_base trixie
    build_wheelhouse
    build_litellm_image
    build_postgres_image
    build_prisma_archive
    ;;
  *) echo "usage: $0 [all|bookworm|trixie|wheelhouse|litellm|postgres|prisma]" >&2; exit 2 ;;
esac
echo "$CACHE_DIR"
