#!/usr/bin/env bash
# image.sh [TAG]: build the pgmig container image locally from the static
# binary (CGO_ENABLED=0) and dist/Containerfile, with podman or docker,
# offline: the image starts from scratch. Default tag: pgmig:dev.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tag=${1:-pgmig:dev}
engine=${CONTAINER_ENGINE:-$(command -v podman || command -v docker || true)}
[ -n "$engine" ] || { echo "image: no container engine; install podman (apt-get install podman) or docker" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ctx/pgmig" .)
cp /etc/ssl/certs/ca-certificates.crt "$ctx/" 2>/dev/null || : >"$ctx/ca-certificates.crt"
echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$ctx/passwd"
cp "$root/LICENSE" "$ctx/"
"$engine" build -q -f "$root/dist/Containerfile" -t "$tag" "$ctx" >/dev/null
echo "image: built $tag with $(basename "$engine")"
