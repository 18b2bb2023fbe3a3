#!/usr/bin/env bash
# Runs README.md's walk-through as a newcomer would, from a fresh start, and
# checks that every output it shows is what pgmig prints (durations, times of
# day and table widths aside):
#
#   "Two commands": the createdb and `go run … up --source builtin` lines
#                   (not `make test`), against the output block below them;
#   "Install":      the `CGO_ENABLED=0 go build` line, and that its binary is
#                   static;
#   "Usage":        the shell block line by line in a new directory, with
#                   $EDITOR writing the SQL block shown, against the block of
#                   `$ pgmig …` outputs; then the failing migration it
#                   describes, against the error block.
#
# The databases README names (pgmig_quickstart, shop) are renamed to
# pgmig_readme_*_PID, so a database of those names that you already have is
# never touched; they are dropped at the end.
#
# Needs: go, psql, createdb, and PostgreSQL on 127.0.0.1:5432 where the role
# postgres may create databases (README's own assumption).
# Usage: scripts/readme-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
readme=$root/README.md
admin=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
for tool in go psql createdb; do
  command -v "$tool" >/dev/null || { echo "readme-check: $tool is required" >&2; exit 1; }
done
psql "$admin" -qAtc 'select 1' >/dev/null ||
  { echo "readme-check: no PostgreSQL at $admin (README's quick start assumes one)" >&2; exit 1; }

tmp=$(mktemp -d)
quick=pgmig_readme_quickstart_$$
shop=pgmig_readme_shop_$$
cleanup() {
  for db in "$quick" "$shop"; do
    psql "$admin" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

# block SECTION N: the Nth fenced block (1-based) of README's "## SECTION".
block() {
  awk -v section="## $1" -v want="$2" '
    $0 == section { on = 1; next }
    on && /^## / { exit }
    on && /^```/ { if (fence) { fence = 0; if (n == want) exit } else { fence = 1; n++ }; next }
    on && fence && n == want { print }' "$readme"
}

# norm: what may differ between two runs becomes fixed text: durations,
# times of day, the width of table columns that hold them, and this run's
# database names (in the target line), which become README's again.
norm() {
  sed -E -e "s/$quick/pgmig_quickstart/g; s/$shop/shop/g" -e 's/[0-9]+(\.[0-9]+)? (ms|s)\b/T/g; s/[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:.]+Z?/TS/g; s/─+/─/g; s/ +/ /g; s/ +$//'
}

# same WHAT WANT GOT: compare two outputs after norm.
same() {
  if diff <(norm <<<"$2") <(norm <<<"$3") >"$tmp/diff"; then
    pass "$1"
  else
    fail "$1 prints otherwise than README shows (< README, > pgmig):"$'\n'"$(cat "$tmp/diff")"
  fi
}

# rename: README's database names become this run's (the directory shop stays).
rename() { sed -E -e "s/pgmig_quickstart/$quick/g" -e "s#(5432)/shop\b#\1/$shop#g" -e "s/^(createdb .*) shop\$/\1 $shop/"; }

# Nothing from the caller's environment chooses the database for us.
for v in $(compgen -e); do
  case $v in PGMIG_* | DATABASE_URL | PG*) unset "$v" ;; esac
done

# 1. Two commands.
mapfile -t lines < <(block "Two commands" 1)
((${#lines[@]} >= 2)) || fail "no shell block under \"## Two commands\""
for l in "${lines[@]}"; do
  case $l in
  "make test"*) continue ;; # the test suite: CI runs it on its own
  createdb*) c=$(rename <<<"$l"); bash -c "$c" || fail "$l" ;;
  *" up --source builtin "*)
    c=$(rename <<<"$l")
    if out=$(bash -c "$c" 2>&1); then
      same "$l" "$(block "Two commands" 2)" "$out"
    else
      fail "$l: $out"
    fi
    ;;
  *) fail "README's quick start has a line this check does not know: $l" ;;
  esac
done

# 2. Install: the static build.
mkdir -p "$tmp/bin"
l=$(block Install 1 | grep -m1 'go build')
c=${l/-o pgmig/-o $tmp/bin/pgmig}
if bash -c "$c" && go version -m "$tmp/bin/pgmig" | grep -q 'CGO_ENABLED=0'; then
  pass "$l: a static binary"
else
  fail "$l does not give a static binary"
fi
export PATH="$tmp/bin:$PATH"

# 3. Usage, in a new directory, with $EDITOR writing the SQL shown.
block Usage 2 >"$tmp/001.sql"
[[ -s $tmp/001.sql ]] || fail "no SQL block under \"## Usage\""
script=$tmp/usage.sh
{
  echo 'set -e'
  echo "EDITOR='cp $tmp/001.sql'"
  block Usage 1 | rename | while IFS= read -r l; do
    cmd=${l%%  #*}
    cmd=${cmd%"${cmd##*[![:space:]]}"}
    case $cmd in
    "") ;;
    pgmig*) printf 'echo %q\n' "\$ $cmd" ;;
    esac
    printf '%s\n' "$cmd"
  done
} >"$script"
mkdir "$tmp/work"
if out=$(cd "$tmp/work" && bash "$script" 2>&1); then
  same "Usage walk-through" "$(block Usage 3)" "$out"
else
  fail "Usage walk-through stopped:"$'\n'"$out"
fi

# 4. The failing migration Usage describes.
cd "$tmp/work/shop"
export PGMIG_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$shop
stmt=$(awk '/an up section with a typo,/{getline; print; exit}' "$readme" | sed -E 's/^`([^`]*)`.*/\1/')
[[ $stmt == CREATE* ]] || fail "cannot find the typo statement in README's Usage: $stmt"
pgmig up >/dev/null
pgmig create index_orders >/dev/null
sed -i "2i $stmt" migrations/002_index_orders.sql
out=$(pgmig up 2>&1) && code=0 || code=$?
if [[ $code == 1 ]]; then pass "the typo: exit 1"; else fail "the typo: exit $code, want 1"; fi
same "the typo's error report" "$(block Usage 4)" "$out"

if ((failures > 0)); then
  echo "readme-check: $failures failed" >&2
  exit 1
fi
echo "readme-check: README's walk-through is true from a fresh start"
