#!/usr/bin/env bash
# bench/lint.sh: time `pgmig lint --source builtin` with an empty parser
# cache (a fresh machine) and a warm one, against a build of BASE_REV
# (default main: go-pgquery compiling its parser in every process) and
# squawk on the same four files, all in one hyperfine run with `true` as
# the floor; then the peak RSS of each, median of RUNS.
#
# Needs: Go, hyperfine and /usr/bin/time (Debian: apt-get install hyperfine
# time), npm for squawk-cli (installed into bench/.tools). Builds pgmig from
# clean exports of PGMIG_REV (default HEAD; "worktree" for the working tree)
# and BASE_REV. RUNS (default 10) runs a command; COLD_RUNS (default 5) for
# the runs that compile.
#
# Squawk checks other rules and prints far more; it is the speed anchor
# issue 14 names, not a like-for-like linter.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
tools=$here/.tools
mkdir -p "$tools" "$here/out"
runs=${RUNS:-10}
cold_runs=${COLD_RUNS:-5}

command -v hyperfine >/dev/null || { echo "lint.sh: hyperfine not found (Debian: apt-get install hyperfine)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "lint.sh: /usr/bin/time not found (Debian: apt-get install time)" >&2; exit 1; }
ls "$tools"/node_modules/@squawk-cli/*/bin/squawk >/dev/null 2>&1 || npm install --silent --no-audit --no-fund --prefix "$tools" "squawk-cli@${SQUAWK_VERSION:-2.66.0}"
# The native binary, not npm's node wrapper around it.
squawk=$(ls "$tools"/node_modules/@squawk-cli/*/bin/squawk | head -1)

# build REV DEST: pgmig from a clean export of REV.
build() {
	local src
	src=$(mktemp -d)
	if [ "$1" = worktree ]; then
		(cd "$repo" && tar -c --exclude=./bench --exclude=./.git .) | tar -x -C "$src"
	else
		git -C "$repo" archive "$1" | tar -x -C "$src"
	fi
	(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$2" .)
	rm -rf "$src"
}
build "${PGMIG_REV:-HEAD}" "$tools/pgmig-lint"
build "${BASE_REV:-main}" "$tools/pgmig-lint-base"
new=$tools/pgmig-lint base=$tools/pgmig-lint-base

cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
export XDG_CACHE_HOME=$cache
files=$(ls "$repo"/source/core/*.sql)
out=$here/out/lint-$(date -u +%Y%m%dT%H%M%SZ).md

# table JSON: hyperfine's results as markdown, medians, and each median's
# ratio to the first command's (true).
table() {
	python3 - "$1" <<'PY'
import json, statistics, sys
rs = json.load(open(sys.argv[1]))["results"]
floor = statistics.median(rs[0]["times"])
print("| command | median (ms) | min (ms) | max (ms) | user+sys (ms, mean) | × true |")
print("|---|---:|---:|---:|---:|---:|")
for r in rs:
    med = statistics.median(r["times"])
    print(f"| {r['command']} | {med*1e3:.1f} | {r['min']*1e3:.1f} | {r['max']*1e3:.1f} | {(r['user']+r['system'])*1e3:.0f} | {med/floor:.0f} |")
PY
}
# rss CMD…: median peak RSS in MB of RUNS runs.
rss() {
	for _ in $(seq "$runs"); do
		/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1
	done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1024}'
}
# cpu CMD…: median user+sys seconds of RUNS runs.
cpu() {
	for _ in $(seq "$runs"); do
		/usr/bin/time -f '%U %S' "$@" 2>&1 >/dev/null | tail -1
	done | awk '{print $1+$2}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'
}

{
	echo "# pgmig lint bench ($(git -C "$repo" rev-parse --short "${PGMIG_REV:-HEAD}" 2>/dev/null || echo worktree) vs ${BASE_REV:-main})"
	echo
	echo "- machine: $(nproc) cores, load at start $(cut -d' ' -f1-3 /proc/loadavg); squawk $("$squawk" --version)"
	echo
	hyperfine -N -i --style basic --export-json "$cache/warm.json" --runs "$runs" --warmup 1 \
		-n true 'true' \
		-n 'pgmig lint, warm cache' "$new lint --source builtin" \
		-n "squawk (4 files)" "$squawk $files" >&2
	table "$cache/warm.json"
	echo
	# One --prepare a command, in order: only the empty-cache runs clear it.
	hyperfine -N -i --style basic --export-json "$cache/cold.json" --runs "$cold_runs" \
		--prepare true --prepare "rm -rf $cache/pgmig" --prepare true \
		-n true 'true' \
		-n 'pgmig lint, empty cache' "$new lint --source builtin" \
		-n "pgmig lint, $(git -C "$repo" rev-parse --short "${BASE_REV:-main}")" "$base lint --source builtin" >&2
	table "$cache/cold.json"
	echo
	echo "| command | peak RSS (MB, median of $runs) | CPU user+sys (s, median) |"
	echo "|---|---:|---:|"
	"$new" lint --source builtin >/dev/null
	echo "| pgmig lint, warm cache | $(rss "$new" lint --source builtin) | $(cpu "$new" lint --source builtin) |"
	runs=$cold_runs
	echo "| pgmig lint, empty cache | $(rm -rf "$cache/pgmig"; rss sh -c "rm -rf $cache/pgmig; exec $new lint --source builtin") | $(cpu sh -c "rm -rf $cache/pgmig; exec $new lint --source builtin") |"
	echo "| pgmig lint, base | $(rss "$base" lint --source builtin) | $(cpu "$base" lint --source builtin) |"
	runs=${RUNS:-10}
	echo "| squawk (4 files) | $(rss "$squawk" $files) | $(cpu "$squawk" $files) |"
	echo
	echo "- load at end $(cut -d' ' -f1-3 /proc/loadavg); cache entry $(du -sh "$cache/pgmig" | cut -f1)"
} | tee "$out"
echo "lint.sh: written to $out" >&2
