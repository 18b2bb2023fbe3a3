#!/usr/bin/env bash
# bench/compare-trivial.sh PGMIG... [-- RUNS]: time `up` of 1,000 trivial
# migrations with one or more pgmig binaries (rows A, B, C…) and the
# one-round-trip psql floor,
# interleaved on fresh databases, and print each median wall time, its
# ratio to the floor, and the median client CPU time (/usr/bin/time: 10 ms
# resolution; the server's CPU is not in it). The row "go" is the same
# floor sent by a bare Go client over pgx (bench/cmd/gofloor): what of
# pgmig's cost is Go's and pgx's, and what is pgmig's own. For
# trying a runner change (e.g. experiments/chained-commit.patch) against
# HEAD on a quiet machine. Uses the files a previous
# `bench/run.sh -only trivial -work DIR` left in DIR (BENCH_WORK, default
# /tmp/bw-full), writing them there first if missing, and the server at
# PGURL (default the local one).
set -euo pipefail
usage="usage: compare-trivial.sh PGMIG... [-- RUNS]"
bins=() runs=9
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then runs=${2:?$usage}; break; fi
  bins+=("$1"); shift
done
[ ${#bins[@]} -gt 0 ] || { echo "$usage" >&2; exit 2; }
work=${BENCH_WORK:-/tmp/bw-full}
base=${PGURL:-postgres://postgres@127.0.0.1:5432}
db="$base/bench_cmp?sslmode=disable" admin="$base/postgres?sslmode=disable"
if [ ! -f "$work/floor-1-1000-true.sql" ]; then
  # The same files bench/run.sh -only trivial writes (bench/cmd/bench's
  # floorScript and pgmigTool), for a machine without the peers.
  mkdir -p "$work/pgmig-1-1000"
  sum=$(printf 'SELECT 1;' | sha256sum | cut -d' ' -f1)
  {
    printf '%s\n' "CREATE TABLE IF NOT EXISTS hist (" \
      "  version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL," \
      "  applied_at timestamptz NOT NULL DEFAULT now(), duration_ms double precision NOT NULL DEFAULT 0," \
      "  applied_by text NOT NULL DEFAULT current_user, success boolean NOT NULL DEFAULT true," \
      "  error text, failed_statement integer);"
    for i in $(seq 1000); do
      printf -- '-- pgmig:up\nSELECT 1;\n\n-- pgmig:down\nSELECT 1;\n' > "$work/pgmig-1-1000/$(printf %05d "$i")_m.sql"
      echo "BEGIN \\; SELECT 1 \\; INSERT INTO hist (version, name, checksum, applied_at, duration_ms, applied_by, success) VALUES ($i, 'm', '$sum', now(), extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000, current_user, true) \\; COMMIT;"
    done
  } > "$work/floor-1-1000-true.sql"
fi
gofloor=$work/gofloor
[ -x "$gofloor" ] || (cd "$(dirname "$0")" && go build -o "$gofloor" ./cmd/gofloor)
declare -A cmd=(
  [go]="$gofloor $db $work/floor-1-1000-true.sql"
  [floor]="psql -X -q -v ON_ERROR_STOP=1 -d $db -f $work/floor-1-1000-true.sql"
)
rows=(floor go)
for i in "${!bins[@]}"; do
  k=$(printf "\\x$(printf %x $((65 + i)))")
  cmd[$k]="${bins[$i]} up -q -d $db -s $work/pgmig-1-1000"
  rows+=("$k")
  echo "$k: ${bins[$i]}"
done
out=$(mktemp)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$runs"); do
  for k in "${rows[@]}"; do
    psql -X -q -d "$admin" -c "DROP DATABASE IF EXISTS bench_cmp WITH (FORCE)" -c "CREATE DATABASE bench_cmp TEMPLATE template0" 2>/dev/null
    # wall µs, then user + sys CPU ms of the client (not the server's)
    /usr/bin/time -f '%e %U %S' -o "$out.t" ${cmd[$k]} >/dev/null
    read -r wall user sys < "$out.t"
    echo "$k $(echo "$wall * 1000000 / 1" | bc) $(echo "($user + $sys) * 1000 / 1" | bc)" >> "$out"
  done
done
psql -X -q -d "$admin" -c "DROP DATABASE IF EXISTS bench_cmp WITH (FORCE)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
med() { grep "^$1 " "$out" | awk -v c="$2" '{print $c}' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
f=$(med floor 2)
for k in "${rows[@]}"; do
  m=$(med $k 2)
  printf '%-6s median %7.1f ms  %.2fx   client CPU (user+sys) median %4d ms\n' "$k" "$(echo "$m/1000" | bc -l)" "$(echo "$m/$f" | bc -l)" "$(med $k 3)"
done
rm -f "$out" "$out.t"
