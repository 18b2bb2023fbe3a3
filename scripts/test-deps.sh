#!/usr/bin/env bash
# test-deps.sh: make sure what the tests need is there, on a fresh Debian
# machine too: a PostgreSQL answering on 127.0.0.1:5432 (started if it is
# installed but down), pgbouncer (installed with apt when missing; the
# tests start their own instance on a free port), and zsh and fish for the
# completion tests.
set -euo pipefail

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if [ -z "${PGMIG_TEST_DATABASE_URL:-}" ] && ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "test-deps: PostgreSQL is not answering on 127.0.0.1:5432; starting it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
    for _ in $(seq 1 60); do pg_up && break; sleep 1; done
  fi
  pg_up || { echo "test-deps: no PostgreSQL on 127.0.0.1:5432; start one or set PGMIG_TEST_DATABASE_URL" >&2; exit 1; }
fi
# The server may accept TCP before it accepts queries.
for _ in $(seq 1 60); do
  psql "${PGMIG_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -qAtc 'SELECT 1' >/dev/null 2>&1 && break
  sleep 1
done

if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test-deps: installing pgbouncer (the PgBouncer tests run their own instance)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  else
    echo "test-deps: pgbouncer is missing; install it (sudo apt-get install pgbouncer)" >&2
    exit 1
  fi
fi

# zsh and fish: the completion tests run pgmig's scripts in each shell and
# skip, saying so, where one is missing; CI should not skip them.
missing=()
for sh in zsh fish; do command -v "$sh" >/dev/null || missing+=("$sh"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test-deps: installing ${missing[*]} (the completion tests run in every shell)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test-deps: ${missing[*]} missing; their completion tests will skip (sudo apt-get install ${missing[*]})" >&2
  fi
fi
