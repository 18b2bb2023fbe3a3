#!/usr/bin/env bash
# bench/run.sh [bench flags…]: measure pgmig against the psql floor and
# against goose, golang-migrate, tern and dbmate, all in one run.
#
# Needs: Go (1.26), psql, npm, /usr/bin/time, and a PostgreSQL server whose
# role may create databases (default postgres://postgres@127.0.0.1:5432;
# pass -url to change it). Peers are installed into bench/.tools (git-ignored)
# from the Go module proxy and npm, at the versions below unless overridden.
#
# pgmig is built from a clean export of PGMIG_REV (default HEAD), so that
# uncommitted edits in the checkout don't enter the numbers; PGMIG_REV=worktree
# builds the working tree as it is.
#
# WAIT_LOAD=1.5 waits (up to WAIT_MAX seconds, default 1200) for the 1-minute
# load average to drop below 1.5 before measuring.
#
# The markdown goes to stdout and to bench/out/run-DATE.md; progress to stderr.
# A full run takes ~40 minutes on 2 cores, most of it N = 10,000 for every
# tool; -big 1000 keeps peers out of N = 10,000 (-peers-big NAME lets one in).
# Examples:
#   bench/run.sh                                  # everything, 5 runs a cell
#   bench/run.sh -big 1000                        # N = 10,000 for pgmig and the floor only
#   bench/run.sh -runs 3 -only apply -sizes 1,100 # a quick look
#   bench/run.sh -big 1000 -peers-big tern        # and tern
#   bench/run.sh -only trivial,status -peers '' -status-sizes 10000
#                                                 # issue 14's floor rows, pgmig only
#
# Wall times are printed with the client CPU time (user + sys, getrusage)
# of the same runs for the trivial and status rows: on a shared machine
# the CPU time is the figure to trust.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
tools=$here/.tools
mkdir -p "$tools/bin" "$here/out"
export GOBIN=$tools/bin GOFLAGS=-mod=mod

[ -x "$tools/bin/goose" ] || go install "github.com/pressly/goose/v3/cmd/goose@${GOOSE_VERSION:-v3.30.0}"
[ -x "$tools/bin/migrate" ] || go install -tags postgres "github.com/golang-migrate/migrate/v4/cmd/migrate@${MIGRATE_VERSION:-v4.20.1}"
[ -x "$tools/bin/tern" ] || go install "github.com/jackc/tern/v2@${TERN_VERSION:-v2.3.4}"
[ -x "$tools/node_modules/.bin/dbmate" ] || npm install --silent --no-audit --no-fund --prefix "$tools" "dbmate@${DBMATE_VERSION:-2.36.0}"
command -v psql >/dev/null || { echo "run.sh: psql not found (Debian: apt-get install postgresql-client)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "run.sh: /usr/bin/time not found (Debian: apt-get install time)" >&2; exit 1; }

src=$tools/src
rm -rf "$src" && mkdir -p "$src"
if [ "${PGMIG_REV:-HEAD}" = worktree ]; then
  (cd "$repo" && tar -c --exclude=./bench --exclude=./.git .) | tar -x -C "$src"
  rev="working tree of $(git -C "$repo" rev-parse --short HEAD)"
else
  git -C "$repo" archive "${PGMIG_REV:-HEAD}" | tar -x -C "$src"
  rev=$(git -C "$repo" rev-parse --short "${PGMIG_REV:-HEAD}")
fi
# The bench module replaces github.com/pgmig/pgmig with ../: the export.
rm -rf "$src/bench" && mkdir -p "$src/bench" && cp -r "$here/go.mod" "$here/go.sum" "$here/cmd" "$src/bench/"
(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tools/pgmig" .)
(cd "$src/bench" && go build -o "$tools/singletx" ./cmd/singletx && go build -o "$tools/hashfiles" ./cmd/hashfiles && go build -o "$tools/bench" ./cmd/bench)

if [ -n "${WAIT_LOAD:-}" ]; then
  deadline=$((SECONDS + ${WAIT_MAX:-1200}))
  while awk -v max="$WAIT_LOAD" '{exit !($1 >= max)}' /proc/loadavg && [ $SECONDS -lt $deadline ]; do
    echo "run.sh: load $(cut -d' ' -f1-3 /proc/loadavg), waiting for < $WAIT_LOAD" >&2
    sleep 20
  done
fi

out=$here/out/run-$(date -u +%Y%m%dT%H%M%SZ).md
{
  echo "# pgmig bench ($rev)"
  echo
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -sr)"
  echo "- peers: $("$tools/bin/goose" --version 2>&1 | head -1); golang-migrate ${MIGRATE_VERSION:-v4.20.1}; tern $("$tools/bin/tern" version 2>&1 | head -1); dbmate $("$tools/node_modules/.bin/dbmate" --version 2>&1); $(psql --version)"
  echo "- command: bench/run.sh $*"
  cd "$here" && "$tools/bench" -pgmig "$tools/pgmig" -singletx "$tools/singletx" -hashfiles "$tools/hashfiles" -tools "$tools/bin" "$@"
} | tee "$out"
echo "run.sh: written to $out" >&2
