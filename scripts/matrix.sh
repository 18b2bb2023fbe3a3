#!/usr/bin/env bash
# matrix.sh [MAJOR ...]: run pgmig's end-to-end core against each PostgreSQL
# major version (default 13 14 16 17 18; the local server covers 15 with the
# full suite). Each server comes from ../shared/pg/pg-start (binaries from the
# npm registry, cached), listens on 127.0.0.1:253MAJOR and is stopped after.
# The port is below Linux's ephemeral range (32768-60999): there, one of the
# thousands of client connections the tests open can hold the port as its
# source address, and the server cannot bind it (seen with 540MAJOR).
# MATRIX_PORT_BASE moves the ports (BASE+MAJOR), for two runs side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
pgbin=${PG_SCRIPTS:-../shared/pg}
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(13 14 16 17 18)
# The packages whose tests exercise the server end to end. diff's round
# trips take 20-55 s a major on the shared 2-core machine; where no pg_dump
# of the server's major or later is found (the servers here come without
# one, and PGMIG_TEST_PG_DUMP may name one), they compare catalog readings
# instead of pg_dump's output, and the tests that feed pg_dump's output in
# skip, saying so.
pkgs=${MATRIX_PACKAGES:-"./lock/ ./runner/ ./schema/ ./diff/ ./internal/cli/"}

# Build the test binaries once; run them against each server.
bins=$(mktemp -d)
trap 'rm -rf "$bins"' EXIT
for p in $pkgs; do
  name=$(echo "$p" | tr -c 'a-z0-9\n' '_')
  go test -c -o "$bins/$name.test" "$p"
done

failed=()
for major in "${majors[@]}"; do
  # A server that fails to start (its port briefly taken) gets one more try.
  port=$((${MATRIX_PORT_BASE:-25300} + major))
  url=$("$pgbin/pg-start" "$major" "$port" | tail -1) || { sleep 5; url=$("$pgbin/pg-start" "$major" "$port" | tail -1); }
  echo "matrix: PostgreSQL $major at $url"
  start=$(date +%s)
  ok=1
  for p in $pkgs; do
    name=$(echo "$p" | tr -c 'a-z0-9\n' '_')
    # Test binaries run in their package's directory, as go test does.
    if ! (cd "$p" && PGMIG_TEST_DATABASE_URL="$url" "$bins/$name.test" -test.v -test.count=1 -test.parallel=8 ${MATRIX_RUN:+-test.run "$MATRIX_RUN"} >"$bins/$major-$name.log" 2>&1); then
      ok=0
      echo "matrix: PostgreSQL $major: $p FAILED"
      # The failed tests and their messages, then the end of the log.
      grep -E -- '--- FAIL|_test\.go:[0-9]+:' "$bins/$major-$name.log" | grep -v -E 'needs (PostgreSQL|pg_dump)' | head -60 || true
      tail -15 "$bins/$major-$name.log"
    fi
    # pgtest.RequireVersion's and RequirePgDump's skips say why: list them.
    grep -h -E 'needs (PostgreSQL|pg_dump)' "$bins/$major-$name.log" | sed -e 's/^ *//' -e "s/^/matrix: PostgreSQL $major: skipped: /" | sort -u || true
  done
  "$pgbin/pg-stop" "$major" "$port"
  echo "matrix: PostgreSQL $major: $([ $ok = 1 ] && echo passed || echo FAILED) in $(( $(date +%s) - start ))s"
  [ $ok = 1 ] || failed+=("$major")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "matrix: failed on PostgreSQL ${failed[*]}"
  exit 1
fi
echo "matrix: ${#majors[@]} passed, 0 failed"
