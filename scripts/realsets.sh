#!/usr/bin/env bash
# realsets.sh DIR TOOL: runs a real migration set with its own tool and with
# pgmig, each on a fresh database, and says whether pgmig read it as the
# tool does (issue 12).
#
#   1. up: TOOL applies DIR to one database, pgmig to another;
#   2. schema: pg_dump --schema-only of the two (history tables left out)
#      must be equal;
#   3. rollback: where the set has downs, TOOL and pgmig roll everything
#      back, and the two schemas must be equal again;
#   4. adopt: on a third database TOOL applies DIR, then
#      `pgmig baseline --from TOOL` takes over its history, after which
#      `pgmig up` must find nothing to do.
#
# TOOL is golang-migrate, goose, dbmate, flyway or psql (each .sql file in
# name order, in one transaction: the tool pg_dump's output is written
# for; no rollback, no history to adopt). Each step prints ok,
# FAIL (with the log to read) or skip, and the last line is one
# tab-separated summary: set, tool, up (tool/pgmig), schema, rollback,
# adopt, and the two up times in ms. Exit 0 when no step failed.
#
# Environment:
#   REALSETS_URL  server to create the databases on
#                 (default postgres://postgres@127.0.0.1:5432)
#   PGMIG         the pgmig binary (default: built from this checkout)
#   MIGRATE, GOOSE, DBMATE, FLYWAY
#                 the tools' binaries (default: found in PATH). Install
#                 them with scripts/realsets-tools.sh.
#   REALSETS_KEEP=1  keep the databases and logs
#   REALSETS_SETUP   an SQL file psql runs on each new database first, for
#                 what the project's own setup makes before its migrations
#                 (schemas, roles, extensions, settings); psql's variable
#                 DBNAME names the database
#
# Flyway needs Java and its distribution; where no flyway binary is found
# the tool side is psql, applying the V files in Flyway's version order
# (each file in one transaction, or outside one when it holds a statement
# that cannot run in one) and the R files after them: a stand-in, said in
# the summary as flyway(psql).
set -uo pipefail

usage() {
	sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 2
}
[ $# -eq 2 ] || usage
dir=$(cd "$1" 2>/dev/null && pwd) || { echo "realsets: $1: not a directory" >&2; exit 2; }
tool=$2
case $tool in golang-migrate | goose | dbmate | flyway | psql) ;; *) usage ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
base=${REALSETS_URL:-postgres://postgres@127.0.0.1:5432}
work=$(mktemp -d "${TMPDIR:-/tmp}/realsets.XXXXXX")
id="rs_$$_$RANDOM"
# The databases are ${id}_tool, ${id}_pgmig and ${id}_adopt (newdb runs in
# a subshell, so the names are fixed rather than collected).
dbs=("${id}_tool" "${id}_pgmig" "${id}_adopt")

if [ -z "${PGMIG:-}" ]; then
	PGMIG=$work/pgmig
	(cd "$root" && CGO_ENABLED=0 go build -o "$PGMIG" .) || { echo "realsets: cannot build pgmig" >&2; exit 1; }
fi
MIGRATE=${MIGRATE:-$(command -v migrate || true)}
GOOSE=${GOOSE:-$(command -v goose || true)}
DBMATE=${DBMATE:-$(command -v dbmate || true)}
FLYWAY=${FLYWAY:-$(command -v flyway || true)}

keep_logs=0
cleanup() {
	if [ "${REALSETS_KEEP:-}" = 1 ]; then
		echo "realsets: kept ${dbs[*]} and $work" >&2
		return
	fi
	for db in "${dbs[@]}"; do
		psql "$base/postgres" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
	done
	if [ $keep_logs = 1 ]; then
		rm -f "$work/pgmig"
		echo "realsets: logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

url() { echo "$base/$1?sslmode=disable"; }
newdb() {
	local db="${id}_$1"
	psql "$base/postgres" -qAtc "CREATE DATABASE $db" >/dev/null || exit 1
	if [ -n "${REALSETS_SETUP:-}" ]; then
		psql "$(url "$db")" -qX -v ON_ERROR_STOP=1 -v DBNAME="$db" -f "$REALSETS_SETUP" >"$work/setup-$1.log" 2>&1 ||
			{ echo "realsets: REALSETS_SETUP failed on $db: $(tail -2 "$work/setup-$1.log")" >&2; exit 1; }
	fi
	echo "$db"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# step NAME LOG CMD...: runs CMD with its output in LOG; returns its status.
step() {
	local name=$1 log=$2
	shift 2
	echo "+ $*" >"$log"
	"$@" >>"$log" 2>&1
}

# The tools' commands, each applying or rolling back all of DIR.
flyway_psql() { # DB up|down: Flyway's order by psql, the stand-in for Flyway
	local db=$1
	[ "$2" = up ] || return 3
	local f
	while IFS= read -r f; do
		local one=-1
		if grep -qiE '^\s*(create|drop)\s+(unique\s+)?index\s+concurrently|^\s*vacuum|^\s*reindex.*concurrently|^\s*(create|drop)\s+(database|tablespace)|^\s*alter\s+system' "$dir/$f"; then
			one=
		fi
		echo "-- $f"
		psql "$(url "$db")" -q -X -v ON_ERROR_STOP=1 $one -f "$dir/$f" || return 1
	done < <(cd "$dir" && ls | grep -E '^V[0-9][0-9._]*__.*\.sql$' | sed -E 's/^V([0-9._]+)__(.*)$/\1\t&/' |
		awk -F'\t' '{v=$1; gsub(/_/, ".", v); n=split(v, p, "."); k=""; for (i=1;i<=n;i++) k=k sprintf("%020d.", p[i]); print k "\t" $2}' |
		sort | cut -f2; cd "$dir" && ls | grep -E '^R__.*\.sql$' | sort)
}
tool_run() { # DB up|down
	local db=$1 dirn=$2
	case $tool in
	golang-migrate)
		[ -n "$MIGRATE" ] || return 127
		if [ "$dirn" = up ]; then "$MIGRATE" -path "$dir" -database "$(url "$db")" up; else "$MIGRATE" -path "$dir" -database "$(url "$db")" down -all; fi ;;
	goose)
		[ -n "$GOOSE" ] || return 127
		if [ "$dirn" = up ]; then "$GOOSE" -dir "$dir" postgres "$(url "$db")" up; else "$GOOSE" -dir "$dir" postgres "$(url "$db")" reset; fi ;;
	dbmate)
		[ -n "$DBMATE" ] || return 127
		if [ "$dirn" = up ]; then
			"$DBMATE" --url "$(url "$db")" --migrations-dir "$dir" --no-dump-schema up
		else
			# dbmate rolls back one migration a call.
			local n
			n=$(psql "$(url "$db")" -qAtc "SELECT count(*) FROM schema_migrations") || return 1
			for ((i = 0; i < n; i++)); do
				"$DBMATE" --url "$(url "$db")" --migrations-dir "$dir" --no-dump-schema rollback || return 1
			done
		fi ;;
	psql)
		[ "$dirn" = up ] || return 3
		local f
		for f in $(cd "$dir" && ls | grep '\.sql$' | sort); do
			echo "-- $f"
			psql "$(url "$db")" -q -X -1 -v ON_ERROR_STOP=1 -f "$dir/$f" || return 1
		done ;;
	flyway)
		if [ -n "$FLYWAY" ]; then
			[ "$dirn" = up ] || return 3 # undo is not in Flyway's free edition
			"$FLYWAY" -url="jdbc:postgresql://${base#postgres://*@}/$db" -user=postgres -locations="filesystem:$dir" migrate
		else
			flyway_psql "$db" "$dirn"
		fi ;;
	esac
}

# dump DB FILE [--data-only]: the schema (or the data), without the tools' history tables and without
# what differs between two databases of one schema.
dump() {
	local what=${3:---schema-only}
	pg_dump "$what" --no-owner --no-privileges --no-comments \
		-T '*.schema_migrations' -T '*.goose_db_version*' -T '*.pgmig_migrations' \
		-T '*.flyway_schema_history' "$(url "$1")" 2>"$2.err" |
		grep -vE '^(--|\\restrict|\\unrestrict|SET |SELECT pg_catalog.set_config)' | grep -v '^$' >"$2"
}

# hasdowns: whether the set has down sections in the tool's format. Globs,
# not `ls | grep -q`: under pipefail, grep -q leaving at its first match
# kills ls with SIGPIPE on a long listing, and the set read as having none
# (openmeter's 539 files skipped the rollback step in silence).
hasdowns() {
	local f
	case $tool in
	golang-migrate) for f in "$dir"/*.down.sql; do [ -e "$f" ] && return 0; done; return 1 ;;
	goose) grep -qil -- '^-- *+goose *down' "$dir"/*.sql 2>/dev/null ;;
	dbmate) grep -qil -- '^-- *migrate:down' "$dir"/*.sql 2>/dev/null ;;
	flyway) for f in "$dir"/U*__*.sql; do [ -e "$f" ] && return 0; done; return 1 ;;
	psql) false ;;
	esac
}

name=$(basename "$dir")
label=$tool
[ "$tool" = flyway ] && [ -z "$FLYWAY" ] && label="flyway(psql)"
result() { printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}"; }
failed=0
fail() { failed=1; echo "FAIL $1: see $2" >&2; }

# 1. up
db_t=$(newdb tool)
db_p=$(newdb pgmig)
t0=$(now_ms)
step "tool up" "$work/tool-up.log" tool_run "$db_t" up
tool_rc=$?
t1=$(now_ms)
step "pgmig up" "$work/pgmig-up.log" "$PGMIG" up --source "$dir" --database-url "$(url "$db_p")"
pgmig_rc=$?
t2=$(now_ms)
tool_ms=$((t1 - t0))
pgmig_ms=$((t2 - t1))
up="tool=$([ $tool_rc = 0 ] && echo ok || echo "rc$tool_rc"),pgmig=$([ $pgmig_rc = 0 ] && echo ok || echo "rc$pgmig_rc")"
[ $tool_rc = 127 ] && up="tool=missing,pgmig=$([ $pgmig_rc = 0 ] && echo ok || echo "rc$pgmig_rc")"
[ $tool_rc = 0 ] || echo "tool up failed (rc $tool_rc): $(tail -3 "$work/tool-up.log" | tr '\n' ' ')" >&2
[ $pgmig_rc = 0 ] || { fail "pgmig up" "$work/pgmig-up.log"; tail -5 "$work/pgmig-up.log" >&2; }

# 2. schema
schema=skip
if [ $tool_rc = 0 ] && [ $pgmig_rc = 0 ]; then
	dump "$db_t" "$work/tool.schema"
	dump "$db_p" "$work/pgmig.schema"
	if diff -u "$work/tool.schema" "$work/pgmig.schema" >"$work/schema.diff"; then
		schema="equal($(wc -l <"$work/pgmig.schema")l)"
		# A dump restored (psql) carries its data too: compare it.
		if [ "$tool" = psql ]; then
			dump "$db_t" "$work/tool.data" --data-only
			dump "$db_p" "$work/pgmig.data" --data-only
			if diff -q "$work/tool.data" "$work/pgmig.data" >/dev/null; then
				schema="$schema+data($(grep -c . "$work/pgmig.data")l)"
			else
				schema="$schema,data=DIFFER"
				fail data "$work/pgmig.data"
			fi
		fi
	else
		schema=DIFFER
		fail schema "$work/schema.diff"
		head -20 "$work/schema.diff" >&2
	fi
fi

# 3. rollback
rollback=skip
if hasdowns && [ $tool_rc = 0 ] && [ $pgmig_rc = 0 ]; then
	step "tool down" "$work/tool-down.log" tool_run "$db_t" down
	tdown=$?
	step "pgmig down" "$work/pgmig-down.log" "$PGMIG" rollback --all --source "$dir" --database-url "$(url "$db_p")"
	pdown=$?
	if [ $tdown = 3 ]; then
		rollback="pgmig=$([ $pdown = 0 ] && echo ok || echo "rc$pdown"),tool=n/a"
	elif [ $tdown = 0 ] && [ $pdown = 0 ]; then
		dump "$db_t" "$work/tool.down.schema"
		dump "$db_p" "$work/pgmig.down.schema"
		if diff -u "$work/tool.down.schema" "$work/pgmig.down.schema" >"$work/down.diff"; then
			rollback=equal
		else
			rollback=DIFFER
			fail rollback "$work/down.diff"
		fi
	else
		rollback="tool=$([ $tdown = 0 ] && echo ok || echo "rc$tdown"),pgmig=$([ $pdown = 0 ] && echo ok || echo "rc$pdown")"
		[ $pdown = 0 ] || { fail "pgmig rollback" "$work/pgmig-down.log"; tail -5 "$work/pgmig-down.log" >&2; }
		[ $tdown = 0 ] || echo "tool rollback failed: $(tail -3 "$work/tool-down.log" | tr '\n' ' ')" >&2
	fi
fi

# 4. adopt
adopt=skip
if [ $tool_rc = 0 ] && [ "$tool" != psql ] && { [ "$tool" != flyway ] || [ -n "$FLYWAY" ]; }; then
	db_a=$(newdb adopt)
	if step "tool up (adopt)" "$work/adopt-tool.log" tool_run "$db_a" up; then
		if step adopt "$work/adopt.log" "$PGMIG" baseline --from "$tool" --source "$dir" --database-url "$(url "$db_a")" &&
			step "up after adopt" "$work/adopt-up.log" "$PGMIG" up --format json --source "$dir" --database-url "$(url "$db_a")"; then
			if grep -q '"applied": *\[\]\|"applied":\[\]\|"applied": *null' "$work/adopt-up.log"; then
				adopt=ok
			else
				adopt="ran-more"
				fail "up after adopt" "$work/adopt-up.log"
			fi
		else
			adopt=FAIL
			fail adopt "$work/adopt.log"
			tail -n 5 "$work/adopt.log" "$work/adopt-up.log" >&2
		fi
	fi
fi

printf 'set\ttool\tup\tschema\trollback\tadopt\ttool_ms\tpgmig_ms\n'
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$label" "$up" "$schema" "$rollback" "$adopt" "$tool_ms" "$pgmig_ms"
if [ $failed = 1 ] || [ $pgmig_rc != 0 ]; then
	keep_logs=1
	exit 1
fi
exit 0
