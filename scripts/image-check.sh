#!/usr/bin/env bash
# image-check.sh: build the local image (scripts/image.sh) and check that it
# does what docs/ci.md says a CI container step does, against the local
# server: `pgmig up --source builtin`, then a mounted /migrations directory,
# then `status --format json` naming what it applied.
#
# It installs podman with apt when no engine is there (as root). In
# sandboxes whose cgroups crun refuses (hybrid v1/v2) or whose rlimits a
# container may not raise, it falls back to runc with cgroupfs and the
# host's limits, and says so.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
admin=${PGMIG_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
tag=pgmig:check

if ! command -v podman >/dev/null && ! command -v docker >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "image-check: no container engine; install podman" >&2; exit 1; }
  echo "image-check: installing podman"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null
fi
engine=$(command -v podman || command -v docker)
"$root/scripts/image.sh" "$tag"

run=("$engine" run --rm --network=host)
if ! "${run[@]}" "$tag" version >/dev/null 2>&1; then
  conf=$(mktemp)
  printf '[containers]\ndefault_ulimits = []\n' >"$conf"
  export CONTAINERS_CONF=$conf
  command -v runc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >/dev/null; }
  run=("$engine" --runtime runc --cgroup-manager=cgroupfs run --rm --network=host)
  "${run[@]}" "$tag" version >/dev/null || { echo "image-check: the image does not run here, even with runc and cgroupfs" >&2; exit 1; }
  echo "image-check: this machine's cgroups or rlimits refuse crun's defaults; running with runc, cgroupfs and the host's limits"
fi

db=pgmig_image_check_$$
url=$(printf '%s' "$admin" | sed -E "s#/[^/?]*(\?|$)#/$db\1#")
psql "$admin" -qc "CREATE DATABASE $db"
mig=$(mktemp -d)
trap 'psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; rm -rf "$mig"' EXIT
chmod 755 "$mig"
printf 'CREATE TABLE orders (id bigint PRIMARY KEY);\n' >"$mig/001_orders.sql"
chmod 644 "$mig/001_orders.sql"

"${run[@]}" -e PGMIG_DATABASE_URL="$url" "$tag" up --source builtin
"${run[@]}" -v "$mig:/migrations:ro" -e PGMIG_DATABASE_URL="$url" "$tag" up --table app_migrations
got=$("${run[@]}" -v "$mig:/migrations:ro" -e PGMIG_DATABASE_URL="$url" "$tag" status --table app_migrations --format json)
case "$got" in
  *'"name": "orders"'*'"state": "applied"'*) ;;
  *) echo "image-check: status from the image does not show 001_orders applied: $got" >&2; exit 1 ;;
esac
[ "$(psql "$url" -qAtc "SELECT count(*) FROM pgmig_migrations")" = 4 ] || { echo "image-check: the builtin schema is not applied" >&2; exit 1; }
echo "image-check: the image applied --source builtin and a mounted /migrations"
