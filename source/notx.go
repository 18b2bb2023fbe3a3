package source

import (
	"fmt"
	"strings"
)

// NoTxStatement is a statement that PostgreSQL refuses to run inside a
// transaction block (SQLSTATE 25001), found in a section before anything
// runs.
type NoTxStatement struct {
	// Line is the line of Section.File on which the statement begins.
	Line int
	// What is the statement's kind, as in "CREATE INDEX CONCURRENTLY".
	What string
	// BeforeServer is 0 when no server runs the statement inside a
	// transaction block. Otherwise servers from this server_version_num on
	// do, and only older ones refuse: 120000 for ALTER TYPE … ADD VALUE.
	BeforeServer int
}

// refusedOn reports whether a server of version num (server_version_num)
// refuses the statement inside a transaction block.
func (s NoTxStatement) refusedOn(num int) bool { return s.BeforeServer == 0 || num < s.BeforeServer }

// noTxRule is how a file's own tool runs a section holding a statement that
// cannot run inside a transaction block.
type noTxRule struct {
	// auto: the tool runs the section outside a transaction by itself,
	// and why, for Section.NoTransactionReason.
	auto   bool
	reason string
	// fix says how to mark the section, for the error when not auto.
	fix string
}

// classifyNoTx returns the statements of sql that cannot run inside a
// transaction block; line is the line of the file on which sql begins.
func classifyNoTx(sql string, line int, stmts []Statement) []NoTxStatement {
	var out []NoTxStatement
	for _, st := range stmts {
		if st.Empty() {
			continue
		}
		what, before := noTxKind(sql[st.Start : st.Offset+len(st.Text)])
		if what == "" {
			continue
		}
		l, _ := LineCol(sql, st.Start)
		out = append(out, NoTxStatement{Line: line + l - 1, What: what, BeforeServer: before})
	}
	return out
}

// noTxKind says whether the statement stmt, from its first token, cannot
// run inside a transaction block: its kind, and the server version from
// which it can (0: none).
func noTxKind(stmt string) (what string, before int) {
	w := leadWords(stmt, 12)
	at := func(i int, word string) bool { return i < len(w) && w[i] == word }
	switch {
	case at(0, "CREATE") && at(1, "INDEX") && at(2, "CONCURRENTLY"),
		at(0, "CREATE") && at(1, "UNIQUE") && at(2, "INDEX") && at(3, "CONCURRENTLY"):
		return "CREATE INDEX CONCURRENTLY", 0
	case at(0, "DROP") && at(1, "INDEX") && at(2, "CONCURRENTLY"):
		return "DROP INDEX CONCURRENTLY", 0
	case at(0, "REINDEX"):
		// REINDEX (CONCURRENTLY, …) …, REINDEX TABLE CONCURRENTLY …, and
		// REINDEX DATABASE / SYSTEM, which run one transaction per table.
		for i := 1; i < len(w); i++ {
			if w[i] == "CONCURRENTLY" {
				return "REINDEX CONCURRENTLY", 0
			}
		}
		for i := 1; i < len(w); i++ {
			if w[i] == "(" || w[i] == ")" || w[i] == "," || w[i] == "VERBOSE" || w[i] == "TABLESPACE" {
				continue
			}
			if w[i] == "DATABASE" || w[i] == "SYSTEM" {
				return "REINDEX " + w[i], 0
			}
			break
		}
	case at(0, "VACUUM"):
		return "VACUUM", 0
	case at(0, "CREATE") && at(1, "DATABASE"):
		return "CREATE DATABASE", 0
	case at(0, "DROP") && at(1, "DATABASE"):
		return "DROP DATABASE", 0
	case at(0, "ALTER") && at(1, "SYSTEM"):
		return "ALTER SYSTEM", 0
	case at(0, "CREATE") && at(1, "TABLESPACE"):
		return "CREATE TABLESPACE", 0
	case at(0, "DROP") && at(1, "TABLESPACE"):
		return "DROP TABLESPACE", 0
	case at(0, "DISCARD") && at(1, "ALL"):
		return "DISCARD ALL", 0
	case at(0, "ALTER") && at(1, "TYPE"):
		for i := 2; i+1 < len(w); i++ {
			if w[i] == "ADD" && w[i+1] == "VALUE" {
				return "ALTER TYPE … ADD VALUE", 120000
			}
		}
	}
	return "", 0
}

// leadWords returns up to n leading tokens of stmt that matter for
// classifying it: unquoted identifiers and keywords upper-cased, "(",
// ")" and "," as themselves, any other token as "?".
func leadWords(stmt string, n int) []string {
	lx := lexer{src: stmt}
	var w []string
	for len(w) < n {
		tok := lx.next()
		switch tok.kind {
		case tokEOF, tokSemicolon:
			return w
		case tokTrivia:
			continue
		case tokIdent:
			w = append(w, strings.ToUpper(stmt[tok.start:tok.end]))
		case tokOpen:
			w = append(w, "(")
		case tokClose:
			w = append(w, ")")
		default:
			if stmt[tok.start:tok.end] == "," {
				w = append(w, ",")
			} else {
				w = append(w, "?")
			}
		}
	}
	return w
}

// applyNoTx records the statements of r's section that cannot run inside a
// transaction block and decides, as the file's own tool would, how the
// section runs: outside a transaction by itself (rule.auto), or refused
// here when it would run them inside one.
func applyNoTx(r region, rule noTxRule, fail func(line int, format string, args ...any)) {
	sec := r.sec
	sec.NoTx = classifyNoTx(sec.SQL, sec.Line, sec.Statements())
	sec.autoNoTx, sec.noTxFix = rule.auto, rule.fix
	sec.autoReason = rule.reason
	if sec.NoTransaction {
		return
	}
	for _, st := range sec.NoTx {
		if st.BeforeServer != 0 {
			continue // decided against the server's version: see Section.OnServer
		}
		if rule.auto {
			sec.NoTransaction = true
			sec.NoTransactionReason = fmt.Sprintf(rule.reason, st.What, st.Line)
			return
		}
		fail(st.Line, "%s cannot run inside a transaction block, and this section runs in one; %s", st.What, rule.fix)
	}
}

// OnServer returns the section as it runs on a server whose
// server_version_num is num: a statement that only older servers refuse
// inside a transaction block (ALTER TYPE … ADD VALUE before PostgreSQL
// 12) makes the section run outside a transaction where the file's own
// tool would do that by itself, and is an error (a *FileError naming the
// file, line and fix) where the section must be marked. A section that
// needs nothing is returned as it is.
func (s Section) OnServer(num int) (Section, error) {
	if s.NoTransaction {
		return s, nil
	}
	for _, st := range s.NoTx {
		if st.BeforeServer == 0 || !st.refusedOn(num) {
			continue
		}
		if s.autoNoTx {
			s.NoTransaction = true
			s.NoTransactionReason = fmt.Sprintf(s.autoReason, st.What+" (before PostgreSQL 12)", st.Line)
			return s, nil
		}
		return s, &FileError{File: s.File, Line: st.Line, Msg: fmt.Sprintf(
			"%s cannot run inside a transaction block on this server (PostgreSQL %d.%d; from %d on it can), and this section runs in one; %s",
			st.What, num/10000, num%10000/100, st.BeforeServer/10000, s.noTxFix)}
	}
	return s, nil
}

// noTxRuleFor returns how the file's own tool runs a section holding a
// statement that cannot run inside a transaction block. tool is the
// markers' tool of a single file ("" for a file that is all one section).
func noTxRuleFor(fn fileName, tool string, stmts int) noTxRule {
	switch {
	case fn.flyway:
		return noTxRule{auto: true, reason: "Flyway runs a migration holding %s (line %d) outside a transaction",
			fix: "Flyway runs such a file outside a transaction"}
	case fn.kind != kindSingle && stmts == 1:
		return noTxRule{auto: true, reason: "golang-migrate sends a file that is one statement, here %s (line %d), alone, outside a transaction",
			fix: "move it into a file of its own"}
	case fn.kind != kindSingle:
		return noTxRule{fix: `move it into a file of its own (golang-migrate sends a file that is one statement alone), or begin this file with the line "-- pgmig:no-transaction"`}
	case tool == toolGoose:
		return noTxRule{fix: `add the line "-- +goose NO TRANSACTION" to the file`}
	case tool == toolDbmate:
		return noTxRule{fix: `add "transaction:false" to the section's marker, as in "-- migrate:up transaction:false"`}
	}
	return noTxRule{fix: `begin the section with the line "-- pgmig:no-transaction" (among its leading comments), which runs it one statement at a time`}
}

// txControlWords returns the leading words of stmt when it begins or ends
// a transaction (BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT,
// PREPARE TRANSACTION), or "" for any other statement: savepoints nest
// inside a transaction and are not counted.
func txControlWords(stmt string) string {
	w := leadWords(stmt, 3)
	if len(w) == 0 {
		return ""
	}
	at := func(i int, word string) bool { return i < len(w) && w[i] == word }
	switch w[0] {
	case "BEGIN", "COMMIT", "END", "ABORT":
		return w[0]
	case "START":
		if at(1, "TRANSACTION") {
			return "START TRANSACTION"
		}
	case "ROLLBACK":
		if !at(1, "TO") && !(at(2, "TO") && (at(1, "WORK") || at(1, "TRANSACTION"))) {
			return "ROLLBACK"
		}
	case "PREPARE":
		if at(1, "TRANSACTION") {
			return "PREPARE TRANSACTION"
		}
	}
	return ""
}

// ownTransactions makes a transactional section that is a whole
// golang-migrate file (N_name.up.sql or .down.sql) holding its own BEGIN
// and COMMIT, other than a wrapper around the whole file (see
// stripWrapper), run as golang-migrate runs it: golang-migrate sends the
// file as it is, outside any transaction of its own, so the file's BEGIN
// and COMMIT decide its transactions. pgmig runs it statement by
// statement, outside a transaction of its own, which keeps them.
func ownTransactions(r region) {
	sec := r.sec
	if sec.NoTransaction {
		return
	}
	for _, st := range sec.Statements() {
		if st.Empty() {
			continue
		}
		if w := txControlWords(sec.SQL[st.Start:]); w != "" {
			l, _ := LineCol(sec.SQL, st.Start)
			sec.NoTransaction = true
			sec.NoTransactionReason = fmt.Sprintf("golang-migrate sends the file as it is, so its own %s (line %d) and COMMIT decide its transactions", w, sec.Line+l-1)
			return
		}
	}
}
