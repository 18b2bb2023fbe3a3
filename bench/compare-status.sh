#!/usr/bin/env bash
# bench/compare-status.sh PGMIG... [-- RUNS]: time `status --format json`,
# text `status` and a no-op `up` at 10,000 applied migrations with one or
# more pgmig binaries, interleaved with issue 14's floor (psql reading the
# history, then bench/cmd/hashfiles reading and hashing the files), and
# print each median wall time and its ratio to the floor. For trying a
# change to the read path against another build on a quiet machine.
#
# The first run writes 10,000 migrations (a CREATE TABLE each) into
# BENCH_WORK (default /tmp/bw-status) and applies them to the database
# bench_status at PGURL (default the local server) with the first binary;
# later runs reuse both. RUNS defaults to 11.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bins=() runs=11
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then runs=${2:?usage: compare-status.sh PGMIG... [-- RUNS]}; break; fi
  bins+=("$1"); shift
done
[ ${#bins[@]} -gt 0 ] || { echo "usage: compare-status.sh PGMIG... [-- RUNS]" >&2; exit 2; }
work=${BENCH_WORK:-/tmp/bw-status} base=${PGURL:-postgres://postgres@127.0.0.1:5432}
db="$base/bench_status?sslmode=disable" admin="$base/postgres?sslmode=disable"
hashfiles=$work/hashfiles
[ -x "$hashfiles" ] || (cd "$here" && go build -o "$hashfiles" ./cmd/hashfiles)
if [ ! -f "$work/files/10000_m10000.sql" ]; then
  mkdir -p "$work/files"
  for i in $(seq 10000); do
    printf -- '-- pgmig:up\nCREATE TABLE t%d (id int);\n\n-- pgmig:down\nDROP TABLE t%d;\n' "$i" "$i" > "$work/files/$(printf %05d "$i")_m$i.sql"
  done
  psql -X -q -d "$admin" -c "DROP DATABASE IF EXISTS bench_status WITH (FORCE)" -c "CREATE DATABASE bench_status"
  "${bins[0]}" up -q -d "$db" -s "$work/files"
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
ms() { local s; s=$(date +%s%N); "$@" > /dev/null 2>&1; echo $(( ($(date +%s%N) - s) / 1000 )); }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$runs"); do
  for i in "${!bins[@]}"; do
    echo "json$i $(ms "${bins[$i]}" status --format json -d "$db" -s "$work/files")" >> "$out"
    echo "text$i $(ms "${bins[$i]}" status -d "$db" -s "$work/files")" >> "$out"
    echo "noop$i $(ms "${bins[$i]}" up -q -d "$db" -s "$work/files")" >> "$out"
  done
  s=$(date +%s%N)
  psql -X -A -t -o /dev/null -d "$db" -c 'SELECT * FROM pgmig_migrations ORDER BY version'
  "$hashfiles" "$work/files" > /dev/null
  echo "floor $(( ($(date +%s%N) - s) / 1000 ))" >> "$out"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
med() { grep "^$1 " "$out" | awk '{print $2}' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
f=$(med floor)
printf '%-40s median %7.1f ms\n' floor "$(echo "$f/1000" | bc -l)"
for i in "${!bins[@]}"; do
  for k in json text noop; do
    m=$(med "$k$i")
    printf '%-40s median %7.1f ms  %.2fx\n' "${bins[$i]##*/} $k" "$(echo "$m/1000" | bc -l)" "$(echo "$m/$f" | bc -l)"
  done
done
