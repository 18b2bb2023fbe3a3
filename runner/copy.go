package runner

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/source"
)

// COPY … FROM STDIN in a section (pg_dump's output with data): the server
// answers such a statement by waiting for the data on the copy protocol,
// so a query holding one cannot be sent whole. The source hands over each
// COPY with its data (source.Section.Copies); here the section is sent in
// pieces on the step's connection and transaction: the SQL up to a COPY
// as one query, the COPY through pgconn's CopyFrom with its data, and so on.

// copyAt returns the COPY … FROM STDIN whose statement is st, if any.
func copyAt(sec source.Section, st source.Statement) (source.CopyIn, bool) {
	for _, c := range sec.Copies {
		if c.Start >= st.Offset && c.Start < st.Offset+len(st.Text) {
			return c, true
		}
	}
	return source.CopyIn{}, false
}

// runCopy sends one COPY … FROM STDIN with its data.
func runCopy(ctx context.Context, s *session, sec source.Section, c source.CopyIn) error {
	_, err := s.conn.PgConn().CopyFrom(ctx, strings.NewReader(c.Data), sec.SQL[c.Start:c.End])
	return err
}

// execPieces runs a transactional section holding COPY … FROM STDIN
// statements inside the transaction that prefix (BEGIN and its settings)
// opens, ending with record, the history change. On failure it returns
// the error located in the section's file; the caller rolls back. It
// returns the command tags of the last statements, the history change's
// and the session reset's.
func execPieces(ctx context.Context, s *session, m *source.Migration, dir Direction, sec source.Section, prefix, record string, ours int) ([]pgconn.CommandTag, error) {
	// Statements before each piece, for locating a failure the server
	// gives no position for.
	var stmts []source.Statement
	for _, st := range sec.Statements() {
		if !st.Empty() {
			stmts = append(stmts, st)
		}
	}
	before := func(off int) int {
		n := 0
		for _, st := range stmts {
			if st.Start < off {
				n++
			}
		}
		return n
	}
	from := 0
	for i := 0; ; i++ {
		end, last := len(sec.SQL), i == len(sec.Copies)
		if !last {
			end = sec.Copies[i].Start
		}
		q := prefix + sec.SQL[from:end]
		if last {
			q += "\n;\n" + record + ";\n" + s.reset
		}
		tail := lastTags{n: 1 + s.resets()}
		if strings.TrimSpace(q) != "" {
			done, err := execSimple(ctx, s.conn, q, tail.add)
			if err != nil {
				return nil, locate(m, dir, sec, err, sent{base: utf8.RuneCountInString(prefix), from: from, index: before(from) + done - ours})
			}
		}
		if last {
			// The last piece ends with the history row and the reset.
			return tail.tags, nil
		}
		c := sec.Copies[i]
		if err := runCopy(ctx, s, sec, c); err != nil {
			return nil, locateCopy(m, dir, sec, stmts, before(c.Start), c, err)
		}
		from, prefix, ours = c.End, "", 0
	}
}

// copyRefused refuses COPY … FROM STDIN where a section is sent whole in a
// larger query (UpOptions.SingleTransaction, Rehearse), which the copy
// protocol cannot join.
func copyRefused(m *source.Migration, what string) error {
	return optionError(what+": migration %s %s (%s) holds COPY … FROM stdin data, which goes through the copy protocol on its own; apply it on its own first",
		verOf(*m), m.Name, m.Up.File)
}

// copyLineRE finds the data line in the context of a COPY error, as in
// "COPY notes, line 2, column id: \"x\"".
var copyLineRE = regexp.MustCompile(`^COPY [^,]+, line (\d+)`)

// locateCopy locates a failed COPY … FROM STDIN: on the data line the
// server names, or else on the COPY statement.
func locateCopy(m *source.Migration, dir Direction, sec source.Section, stmts []source.Statement, index int, c source.CopyIn, err error) *MigrationError {
	merr := &MigrationError{Version: m.Version, Ver: verOf(*m), Name: m.Name, Direction: dir, File: sec.File, Err: err}
	if index < len(stmts) {
		merr.Statement = index + 1
	}
	merr.Line, merr.Column, merr.SourceLine = fileLine(sec, c.Start)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return merr
	}
	if sub := copyLineRE.FindStringSubmatch(pe.Where); sub != nil {
		n, _ := strconv.Atoi(sub[1])
		lines := strings.SplitAfter(c.Data, "\n")
		if n >= 1 && n <= len(lines) {
			merr.Line, merr.Column, merr.SourceLine = c.Line+n-1, 1, strings.TrimSuffix(lines[n-1], "\n")
		}
	}
	return merr
}
