#!/usr/bin/env bash
# realsets-tools.sh [DIR]: installs the migration tools scripts/realsets.sh
# compares pgmig with into DIR (default ./.realsets-tools), and prints the
# environment to point realsets.sh at them:
#
#   golang-migrate and goose from the Go module proxy (go install);
#   dbmate from npm (its binary package), as the Go proxy does not serve it.
#
# Flyway needs its Java distribution from Maven Central or Redgate, which
# this script does not fetch; realsets.sh then stands psql in for it.
set -euo pipefail
dir=$(mkdir -p "${1:-.realsets-tools}" && cd "${1:-.realsets-tools}" && pwd)
export GOBIN=$dir/bin
# goose without the drivers of other databases: only postgres is needed.
go install -tags 'no_clickhouse no_libsql no_mssql no_mysql no_sqlite3 no_vertica no_ydb' github.com/pressly/goose/v3/cmd/goose@latest
go install -tags postgres github.com/golang-migrate/migrate/v4/cmd/migrate@latest
(cd "$dir" && npm install --silent --no-audit --no-fund --prefix "$dir/npm" @dbmate/linux-x64 >/dev/null)
cat <<ENV
export GOOSE=$dir/bin/goose
export MIGRATE=$dir/bin/migrate
export DBMATE=$dir/npm/node_modules/@dbmate/linux-x64/bin/dbmate
ENV
