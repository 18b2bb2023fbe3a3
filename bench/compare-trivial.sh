#!/usr/bin/env bash
# bench/compare-trivial.sh PGMIG_A PGMIG_B [RUNS]: time `up` of 1,000 trivial
# migrations with two pgmig binaries and the one-round-trip psql floor,
# interleaved on fresh databases, and print each median and ratio. For
# trying a runner change (e.g. experiments/chained-commit.patch) against
# HEAD on a quiet machine. Uses the files a previous
# `bench/run.sh -only trivial -work DIR` left in DIR (BENCH_WORK, default
# /tmp/bw-full) and the server at PGURL (default the local one).
set -euo pipefail
a=${1:?usage: compare-trivial.sh PGMIG_A PGMIG_B [RUNS]} b=${2:?usage: compare-trivial.sh PGMIG_A PGMIG_B [RUNS]}
runs=${3:-9} work=${BENCH_WORK:-/tmp/bw-full}
base=${PGURL:-postgres://postgres@127.0.0.1:5432}
db="$base/bench_cmp?sslmode=disable" admin="$base/postgres?sslmode=disable"
[ -f "$work/floor-1-1000-true.sql" ] || { echo "run bench/run.sh -only trivial -work $work first" >&2; exit 1; }
declare -A cmd=(
  [floor]="psql -X -q -v ON_ERROR_STOP=1 -d $db -f $work/floor-1-1000-true.sql"
  [A]="$a up -q -d $db -s $work/pgmig-1-1000"
  [B]="$b up -q -d $db -s $work/pgmig-1-1000"
)
out=$(mktemp)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$runs"); do
  for k in floor A B; do
    psql -X -q -d "$admin" -c "DROP DATABASE IF EXISTS bench_cmp WITH (FORCE)" -c "CREATE DATABASE bench_cmp TEMPLATE template0" 2>/dev/null
    s=$(date +%s%N); ${cmd[$k]} >/dev/null; e=$(date +%s%N)
    echo "$k $(( (e - s) / 1000 ))" >> "$out"
  done
done
psql -X -q -d "$admin" -c "DROP DATABASE IF EXISTS bench_cmp WITH (FORCE)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
med() { grep "^$1 " "$out" | awk '{print $2}' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
f=$(med floor)
for k in floor A B; do
  m=$(med $k)
  printf '%-6s median %7.1f ms  %.2fx\n' "$k" "$(echo "$m/1000" | bc -l)" "$(echo "$m/$f" | bc -l)"
done
rm -f "$out"
