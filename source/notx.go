package source

import (
	"fmt"
	"slices"
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
		// Most statements begin with none of the words below: they are
		// passed over without lexing further.
		w := firstWord(sql, st.Start)
		switch {
		case asciiEqualFold(w, "reindex"), asciiEqualFold(w, "vacuum"), asciiEqualFold(w, "discard"):
		case asciiEqualFold(w, "create"), asciiEqualFold(w, "drop"), asciiEqualFold(w, "alter"):
			// CREATE TABLE, ALTER TABLE and the like are most statements.
			switch w2 := secondWord(sql, st.Start+len(w)); {
			case asciiEqualFold(w2, "index"), asciiEqualFold(w2, "unique"), asciiEqualFold(w2, "database"),
				asciiEqualFold(w2, "tablespace"), asciiEqualFold(w2, "system"), asciiEqualFold(w2, "type"):
			default:
				continue
			}
		default:
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

// noTxLeads are the statements that cannot run inside a transaction block,
// by their leading words, and the kind each is reported as.
var noTxLeads = []struct {
	words []string
	what  string
}{
	{[]string{"CREATE", "INDEX", "CONCURRENTLY"}, "CREATE INDEX CONCURRENTLY"},
	{[]string{"CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"}, "CREATE INDEX CONCURRENTLY"},
	{[]string{"DROP", "INDEX", "CONCURRENTLY"}, "DROP INDEX CONCURRENTLY"},
	{[]string{"VACUUM"}, "VACUUM"},
	{[]string{"CREATE", "DATABASE"}, "CREATE DATABASE"},
	{[]string{"DROP", "DATABASE"}, "DROP DATABASE"},
	{[]string{"ALTER", "SYSTEM"}, "ALTER SYSTEM"},
	{[]string{"CREATE", "TABLESPACE"}, "CREATE TABLESPACE"},
	{[]string{"DROP", "TABLESPACE"}, "DROP TABLESPACE"},
	{[]string{"DISCARD", "ALL"}, "DISCARD ALL"},
}

// noTxKind says whether the statement stmt, from its first token, cannot
// run inside a transaction block: its kind, and the server version from
// which it can (0: none).
func noTxKind(stmt string) (what string, before int) {
	w := leadWords(stmt, 12)
	for _, l := range noTxLeads {
		if len(w) >= len(l.words) && slices.Equal(w[:len(l.words)], l.words) {
			return l.what, 0
		}
	}
	switch {
	case len(w) > 0 && w[0] == "REINDEX":
		// REINDEX (CONCURRENTLY, …) …, REINDEX TABLE CONCURRENTLY …, and
		// REINDEX DATABASE / SYSTEM, which run one transaction per table.
		if slices.Contains(w[1:], "CONCURRENTLY") {
			return "REINDEX CONCURRENTLY", 0
		}
		for _, word := range w[1:] {
			switch word {
			case "(", ")", ",", "VERBOSE", "TABLESPACE":
				continue
			case "DATABASE", "SYSTEM":
				return "REINDEX " + word, 0
			}
			break
		}
	case len(w) > 1 && w[0] == "ALTER" && w[1] == "TYPE":
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

// wordsFound says which of the words that the checks of a file look for
// it holds, in any case: COPY (for COPY … FROM STDIN), a word of every
// statement noTxKind finds, VALUE (of ALTER TYPE … ADD VALUE), and COMMIT,
// ROLLBACK, ABORT or PREPARE (a file that runs its own transactions; one
// that only has BEGIN … END is left to the runner, which refuses it).
type wordsFound struct {
	copy, noTx, value, txControl bool
}

// findWords looks for the words in one pass over text.
func findWords(text string) wordsFound {
	var f wordsFound
	at := func(i int, w string) bool { return i+len(w) <= len(text) && asciiEqualFold(text[i:i+len(w)], w) }
	for i := 0; i < len(text); i++ {
		// |0x20 folds ASCII upper case into lower; other bytes it maps
		// onto a letter only fail the comparison after.
		switch text[i] | 0x20 {
		case 'c':
			f.copy = f.copy || at(i, "copy")
			f.noTx = f.noTx || at(i, "concurrently")
			f.txControl = f.txControl || at(i, "commit")
		case 'v':
			f.noTx = f.noTx || at(i, "vacuum")
			f.value = f.value || at(i, "value")
		case 'd':
			f.noTx = f.noTx || at(i, "database") || at(i, "discard")
		case 't':
			f.noTx = f.noTx || at(i, "tablespace")
		case 's':
			f.noTx = f.noTx || at(i, "system")
		case 'r':
			f.noTx = f.noTx || at(i, "reindex")
			f.txControl = f.txControl || at(i, "rollback")
		case 'a':
			f.txControl = f.txControl || at(i, "abort")
		case 'p':
			f.txControl = f.txControl || at(i, "prepare")
		}
	}
	return f
}

// holdsAddValue reports whether s holds ADD, whitespace, VALUE in any case.
func holdsAddValue(s string) bool {
	for i := 0; i+5 <= len(s); i++ {
		if s[i]|0x20 != 'v' || !asciiEqualFold(s[i:i+5], "value") {
			continue
		}
		j := i
		for j > 0 && isSpace(s[j-1]) {
			j--
		}
		if j < i && j >= 3 && asciiEqualFold(s[j-3:j], "add") {
			return true
		}
	}
	return false
}

// firstWord returns the unquoted identifier or keyword at sql[start:], or
// "" when another token begins there.
func firstWord(sql string, start int) string {
	if start < 0 || start >= len(sql) || !isIdentStart(sql[start]) {
		return ""
	}
	return sql[start:identRunEnd(sql, start)]
}

// secondWord returns the identifier or keyword that follows whitespace and
// comments from sql[pos:], or "".
func secondWord(sql string, pos int) string {
	lx := lexer{src: sql, pos: pos}
	for {
		tok := lx.next()
		switch tok.kind {
		case tokTrivia:
			continue
		case tokIdent:
			return sql[tok.start:tok.end]
		}
		return ""
	}
}

// applyNoTx records the statements of r's section that cannot run inside a
// transaction block and decides, as the file's own tool would, how the
// section runs: outside a transaction by itself (rule.auto), or refused
// here when it would run them inside one. stmts are the section's
// Statements.
func applyNoTx(r region, rule noTxRule, stmts []Statement, fail func(line int, format string, args ...any)) {
	sec := r.sec
	sec.NoTx = classifyNoTx(sec.SQL, sec.Line, stmts)
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
			"%s cannot run inside a transaction block on this server (PostgreSQL %s; from %d on it can), and this section runs in one; %s",
			st.What, serverRelease(num), st.BeforeServer/10000, s.noTxFix)}
	}
	return s, nil
}

// serverRelease writes a server_version_num as its release: 110009 is
// 11.9 (from PostgreSQL 10 on, two parts), 90624 is 9.6.24.
func serverRelease(num int) string {
	if num >= 100000 {
		return fmt.Sprintf("%d.%d", num/10000, num%10000)
	}
	return fmt.Sprintf("%d.%d.%d", num/10000, num/100%100, num%100)
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
// golang-migrate or Flyway file (N_name.up.sql or .down.sql, V or U
// files) holding its own BEGIN and COMMIT, other than a wrapper around the
// whole file (see stripWrapper), run as its tool runs it. golang-migrate
// sends the file as it is, outside any transaction of its own, so the
// file's BEGIN and COMMIT decide its transactions. Flyway runs the file in
// a transaction, but a COMMIT in it commits that transaction part-way (a
// BEGIN only draws a warning), and what follows runs in the next: again
// the file's own COMMITs draw the lines. pgmig runs it statement by
// statement, outside a transaction of its own, which keeps them. stmts are
// the section's Statements; it reports whether it changed the section.
func ownTransactions(r region, stmts []Statement, flyway bool) bool {
	sec := r.sec
	if sec.NoTransaction {
		return false
	}
	for _, st := range stmts {
		if st.Empty() {
			continue
		}
		switch w := firstWord(sec.SQL, st.Start); {
		case asciiEqualFold(w, "begin"), asciiEqualFold(w, "commit"), asciiEqualFold(w, "end"), asciiEqualFold(w, "abort"),
			asciiEqualFold(w, "start"), asciiEqualFold(w, "rollback"), asciiEqualFold(w, "prepare"):
		default:
			continue
		}
		if w := txControlWords(sec.SQL[st.Start:]); w != "" {
			l, _ := LineCol(sec.SQL, st.Start)
			sec.NoTransaction = true
			sec.NoTransactionReason = fmt.Sprintf("golang-migrate sends the file as it is, so its own %s (line %d) and COMMIT decide its transactions", w, sec.Line+l-1)
			if flyway {
				sec.NoTransactionReason = fmt.Sprintf("Flyway's transaction for the file ends at the file's own COMMIT, so its %s (line %d) and COMMIT decide its transactions", w, sec.Line+l-1)
			}
			return true
		}
	}
	return false
}
