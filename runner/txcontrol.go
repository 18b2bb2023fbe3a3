package runner

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/pgmig/pgmig/source"
)

// TransactionControlError reports a transactional section that holds its
// own BEGIN, COMMIT or ROLLBACK. pgmig already wraps the section in a
// transaction with its history row; a COMMIT inside would commit part of
// the migration on its own, and a later failure would leave it half done.
type TransactionControlError struct {
	Version   int64
	Ver       source.Version // may be unset (then Version)
	Name      string
	File      string
	Line      int
	Statement string // the statement's first words, e.g. "COMMIT"
}

func (e *TransactionControlError) Error() string {
	return fmt.Sprintf("%s:%d: migration %s %s runs %s inside the transaction pgmig wraps it in; remove BEGIN/COMMIT from the file, or begin the section with `-- pgmig:no-transaction` to run it statement by statement",
		e.File, e.Line, verText(e.Version, e.Ver), e.Name, e.Statement)
}

func (e *TransactionControlError) Is(target error) bool { return target == ErrValidation }

// transactionControl finds the first statement of a transactional section
// that would begin or end a transaction. Savepoints (SAVEPOINT, ROLLBACK TO,
// RELEASE) are fine: they nest inside the wrapping transaction.
func transactionControl(m *source.Migration, sec source.Section) error {
	if sec.NoTransaction {
		return nil
	}
	for st := range source.SplitSeq(sec.SQL) {
		if st.Empty() {
			continue
		}
		words := leadingWords(sec.SQL[st.Start:], 3)
		if len(words) == 0 {
			continue
		}
		bad := false
		switch words[0] {
		case "BEGIN", "COMMIT", "END", "ABORT":
			bad = true
		case "START":
			bad = len(words) > 1 && words[1] == "TRANSACTION"
		case "ROLLBACK":
			bad = !(len(words) > 1 && (words[1] == "TO" || (words[1] == "WORK" || words[1] == "TRANSACTION") && len(words) > 2 && words[2] == "TO"))
		case "PREPARE":
			bad = len(words) > 1 && words[1] == "TRANSACTION"
		}
		if bad {
			line, _, _ := fileLine(sec, st.Start)
			return &TransactionControlError{Version: m.Version, Ver: verOf(*m), Name: m.Name, File: sec.File, Line: line, Statement: strings.Join(words[:min(len(words), 2)], " ")}
		}
	}
	return nil
}

// leadingWords returns up to n upper-cased words at the start of s,
// stopping at the first character that is not a letter or space.
func leadingWords(s string, n int) []string {
	var words []string
	for len(words) < n {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		end := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && r != '_' })
		if end < 0 {
			end = len(s)
		}
		if end == 0 {
			break
		}
		words = append(words, strings.ToUpper(s[:end]))
		s = s[end:]
	}
	return words
}
