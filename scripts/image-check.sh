#!/usr/bin/env bash
# image-check.sh: build the local image (scripts/image.sh) and check that it
# does what docs/ci.md says a CI container step does, against the local
# server: `pgmig up --source builtin`, then a mounted /migrations directory,
# then `status --format json` naming what it applied.
#
# It installs podman with apt when no engine works here (as root): none
# installed, or a docker client whose daemon does not answer. In
# sandboxes whose cgroups crun refuses (hybrid v1/v2) or whose rlimits a
# container may not raise, it falls back to runc with cgroupfs and the
# host's limits, and says so.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
admin=${PGMIG_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
tag=pgmig:check

# podman needs no daemon; a docker client counts only when its daemon
# answers (a machine may have the client alone).
engine=$(command -v podman || true)
if [ -z "$engine" ] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=$(command -v docker)
fi
if [ -z "$engine" ]; then
  [ "$(id -u)" = 0 ] || { echo "image-check: no working container engine (podman, or docker with its daemon); install podman" >&2; exit 1; }
  if command -v docker >/dev/null; then
    echo "image-check: docker is here but its daemon does not answer; installing podman"
  else
    echo "image-check: installing podman"
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null
  engine=$(command -v podman)
fi
CONTAINER_ENGINE=$engine "$root/scripts/image.sh" "$tag"

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
