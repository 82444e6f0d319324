# Sourced by scripts/real-admin-api.sh and scripts/build-prisma-archive.sh (which
# need the same installs, named the same): npm_install SRC installs the package
# in SRC (package.json + package-lock.json) once per lock file under
# $CACHE_DIR/realapi and prints the installed directory. Needs CACHE_DIR and a
# log function.
npm_install() {
  local src=$1 sum dir
  sum=$(cat "$src/package.json" "$src/package-lock.json" "$src"/*.mjs 2>/dev/null | sha256sum | cut -c1-16)
  dir="$CACHE_DIR/realapi/$(basename "$src")-$sum"
  if [ ! -f "$dir/.installed" ]; then
    log "npm ci in $dir (integrity checked against package-lock.json)"
    rm -rf "$dir"; mkdir -p "$dir"
    cp -a "$src"/. "$dir"/
    # --ignore-scripts: the Prisma CLI's postinstall would download native engines
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    touch "$dir/.installed"
  fi
  echo "$dir"
}
