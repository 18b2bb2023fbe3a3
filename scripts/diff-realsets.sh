#!/usr/bin/env bash
# diff-realsets.sh DIR...: measures `pgmig diff`'s planner on real migration
# sets. It runs diff/realsets_test.go's TestRealSets on the directories DIR
# (one go test, the sets in the order given; the projects' files stay
# outside this repository), which cuts each set at 1/4, 1/2 and 3/4 and
# plans the diff to the schema 1 and 5 migrations later. It prints the
# test's lines: each case's (planned, up-equal, down-equal, lint-clean and
# the note of what did not hold), each set's summary line, and what
# stopped a set (a build error). Exit status: the test's (1 when a case
# did not hold, which is what it measures).
#
# Environment:
#   DIFF_REALSETS_SETUP  an SQL file psql runs once on the admin database
#                 before the test, for the cluster-wide objects a set's own
#                 setup makes before its migrations (roles); objects in a
#                 database belong in the set's migrations, since every case
#                 builds on new databases
#   DIFF_REALSETS_LOG    where the whole test log is written (default: a
#                 temporary file, removed unless the test failed to run)
#   DIFF_REALSETS_KEEP=1 keep the databases the test keeps of its failed
#                 cases (default: dropped after the run)
#   DIFF_REALSETS_TIMEOUT  go test -timeout (default 60m)
#   PGMIG_TEST_DATABASE_URL  admin connection, as for the tests
#                 (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
#   PGMIG_TEST_PG_DUMP   the pg_dump to use, as for the tests
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 2
}
[ $# -ge 1 ] || usage
dirs=()
for d in "$@"; do
	abs=$(cd "$d" 2>/dev/null && pwd) || { echo "diff-realsets: $d: not a directory" >&2; exit 2; }
	case $abs in *:*) echo "diff-realsets: $abs: a ':' in the path cannot be passed to the test" >&2; exit 2 ;; esac
	dirs+=("$abs")
done
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
admin=${PGMIG_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}

if [ -n "${DIFF_REALSETS_SETUP:-}" ]; then
	psql "$admin" -qX -v ON_ERROR_STOP=1 -f "$DIFF_REALSETS_SETUP" >/dev/null ||
		{ echo "diff-realsets: DIFF_REALSETS_SETUP $DIFF_REALSETS_SETUP failed" >&2; exit 1; }
fi

log=${DIFF_REALSETS_LOG:-}
tmplog=
if [ -z "$log" ]; then
	tmplog=$(mktemp "${TMPDIR:-/tmp}/diff-realsets.XXXXXX")
	log=$tmplog
fi

sets=$(IFS=:; echo "${dirs[*]}")
start=$(date +%s)
rc=0
PGMIG_DIFF_REALSETS=$sets go test -count=1 -run '^TestRealSets$' -v \
	-timeout "${DIFF_REALSETS_TIMEOUT:-60m}" ./diff >"$log" 2>&1 || rc=$?
secs=$(($(date +%s) - start))

# The test keeps the databases of a failed test (pgtest); each case that
# did not hold fails its set, so drop what it names as kept.
if [ "${DIFF_REALSETS_KEEP:-}" != 1 ]; then
	for db in $(sed -n 's/.*pgtest: kept database \(pgmig_test_[0-9_]*\) .*/\1/p' "$log" | sort -u); do
		psql "$admin" -qAtXc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true
	done
fi

# The test's own lines: each case, each set's summary, and what stopped a
# set (a build that failed, as "build FILE: ERROR").
lines=$(grep -E '^ +realsets_test\.go:[0-9]+: ' "$log" | sed -E 's/^ +realsets_test\.go:[0-9]+: //' || true)
[ -z "$lines" ] || printf '%s\n' "$lines"
if ! grep -qE '^ +realsets_test\.go:[0-9]+: .* \([0-9]+ migrations\): ' "$log"; then
	echo "diff-realsets: no summary line; the test did not run to its end (rc $rc):" >&2
	grep -E '^(FAIL|---|panic)|\.go:[0-9]+:' "$log" | head -20 >&2 || true
	[ -z "$tmplog" ] || { echo "diff-realsets: log kept in $log" >&2; tmplog=; }
fi
echo "diff-realsets: go test rc $rc in ${secs}s"
[ -z "$tmplog" ] || rm -f "$tmplog"
exit $rc
