#!/usr/bin/env bash
# Runs what docs/ci.md ("Running pgmig in CI") shows against a scratch
# database, so the page stays true: every `pgmig …` line of its CI examples
# (against --source builtin), then its JSON/jq example through each
# documented exit code (0, 1, 2, 3, 4).
# The docker lines are not run: there is no container engine here.
#
# Needs: go, psql, jq, and a PostgreSQL that lets the admin URL create
# databases. Usage: scripts/ci-doc-check.sh
#   PGMIG_DOC_CHECK_ADMIN_URL  admin connection (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
doc=$root/docs/ci.md
[ -s "$doc" ] || { echo "ci-doc-check: $doc is missing or empty" >&2; exit 1; }
head -1 "$doc" | grep -q '^# Running pgmig in CI' ||
  { echo "ci-doc-check: $doc does not begin with '# Running pgmig in CI'" >&2; exit 1; }

admin=${PGMIG_DOC_CHECK_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
for tool in go psql jq; do
  command -v "$tool" >/dev/null || { echo "ci-doc-check: $tool is required" >&2; exit 1; }
done
if ! psql "$admin" -qAtc 'select 1' >/dev/null; then
  echo "ci-doc-check: no PostgreSQL at $admin; start one or set PGMIG_DOC_CHECK_ADMIN_URL" >&2
  exit 1
fi

tmp=$(mktemp -d)
db=pgmig_ci_doc_$$
bgpid=
cleanup() {
  [[ -n $bgpid ]] && kill "$bgpid" 2>/dev/null || true
  psql "$admin" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

mkdir -p "$tmp/bin" "$tmp/work"
CGO_ENABLED=0 go build -trimpath -o "$tmp/bin/pgmig" .
export PATH="$tmp/bin:$PATH"
psql "$admin" -qc "create database $db" >/dev/null

# Only what the doc sets: no PGMIG_* from the caller's environment.
for v in $(compgen -e); do
  case $v in PGMIG_DOC_CHECK_*) ;; PGMIG_* | DATABASE_URL) unset "$v" ;; esac
done
base_url=${admin%%\?*}
base_url=${base_url%/*}
query=
[[ $admin == *\?* ]] && query="?${admin#*\?}"
export PGMIG_DATABASE_URL="$base_url/$db$query"
cd "$tmp/work"

# 1. Every pgmig command in the doc's YAML and shell blocks: `- run: pgmig …`
#    (GitHub Actions), `- pgmig …` (GitLab CI), `pgmig …` (shell). Against
#    the builtin migrations, in order; each must exit 0.
mapfile -t cmds < <(awk '
  /^```/ { if (fence) { fence = 0 } else { fence = 1; lang = substr($0, 4) }; next }
  fence && (lang == "yaml" || lang == "sh" || lang == "bash") {
    line = $0
    sub(/^[ \t]*(- )?(run: )?/, "", line)
    if (line ~ /^pgmig /) print line
  }' "$doc")
if ((${#cmds[@]} < 4)); then
  fail "expected the pgmig validate/up lines of the CI examples in $doc, found ${#cmds[@]}"
fi
for c in "${cmds[@]}"; do
  if out=$(PGMIG_SOURCE=builtin bash -o pipefail -c "$c" 2>&1); then
    pass "$c"
  else
    fail "$c (exit $?):"$'\n'"$out"
  fi
done

# 2. The JSON/jq example, through each exit code it handles.
example=$tmp/example.sh
awk '/<!-- ci-doc-check: json-example/ { want = 1; next }
     want && /^```/ { if (inblock) exit; inblock = 1; next }
     inblock { print }' "$doc" > "$example"
if [[ ! -s $example ]]; then
  fail "no block after <!-- ci-doc-check: json-example --> in $doc"
fi

export PGMIG_SOURCE=$tmp/work/migrations PGMIG_TABLE=doccheck.history
mkdir -p migrations
cat > migrations/001_create_items.sql <<'SQL'
-- pgmig:up
CREATE TABLE doccheck_items (id bigint PRIMARY KEY, name text NOT NULL);
-- pgmig:down
DROP TABLE doccheck_items;
SQL

# example WANT_CODE WANT_TEXT [ENV=VALUE…]: run the example, check its exit
# code and that its output (stdout and stderr) contains WANT_TEXT.
example() {
  local want=$1 text=$2 out code
  shift 2
  out=$(env "$@" bash "$example" 2>&1) && code=0 || code=$?
  if [[ $code == "$want" && $out == *"$text"* ]]; then
    pass "json example: exit $code, \"$text\""
  else
    fail "json example: want exit $want and \"$text\", got exit $code:"$'\n'"$out"
  fi
}

example 0 "applied 1 create_items in "
example 0 "database at version 1"

cp migrations/001_create_items.sql "$tmp/001.orig"
sed -i 's/name text NOT NULL/name text/' migrations/001_create_items.sql
example 3 "refused, nothing applied: "
cp "$tmp/001.orig" migrations/001_create_items.sql

# Exit 4: a deploy holds the lock while its migration runs.
cat > migrations/002_slow.sql <<'SQL'
SELECT pg_sleep(5);
SQL
pgmig up >"$tmp/holder.out" 2>&1 &
bgpid=$!
for _ in $(seq 100); do
  held=$(psql "$admin" -qAtc "select count(*) from pg_locks l join pg_database d on d.oid = l.database
                              where l.locktype = 'advisory' and l.granted and d.datname = '$db'")
  [[ $held != 0 ]] && break
  sleep 0.1
done
example 4 "another deploy holds the lock: " PGMIG_LOCK_TIMEOUT=1s
if wait "$bgpid"; then pass "the lock holder finished its deploy"; else fail "lock holder: $(cat "$tmp/holder.out")"; fi
bgpid=

example 1 "pgmig failed (exit 1): " PGMIG_DATABASE_URL="postgres://postgres@127.0.0.1:1/none?sslmode=disable" PGMIG_CONNECT_TIMEOUT=1s

# Exit 2 is a usage error, in JSON too.
out=$(pgmig up --no-such-flag --format json 2>/dev/null) && code=0 || code=$?
if [[ $code == 2 ]] && jq -e '.error.code == 2' <<<"$out" >/dev/null; then
  pass "usage error: exit 2, .error.code == 2"
else
  fail "usage error: want exit 2 and .error.code 2, got exit $code: $out"
fi

if ((failures > 0)); then
  echo "ci-doc-check: $failures failed" >&2
  exit 1
fi
echo "ci-doc-check: the commands of docs/ci.md all behave as documented"
