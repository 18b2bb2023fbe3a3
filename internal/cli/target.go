package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fatih/color"

	"github.com/pgmig/pgmig/pgdb"
)

// jsonTarget names the database a command works on (CONTRACT.md,
// "Connection and target"): the top-level "target" of its JSON document.
type jsonTarget struct {
	Host     string `json:"host"`
	Port     uint16 `json:"port"`
	Database string `json:"database"`
	Table    string `json:"table"`
}

// targetOf reads the target from the configuration pgx parsed, the one it
// connects with. pgdb refuses connection strings whose password could
// spill into another field, so none holds one; a field that still held the
// password would be shown as xxxxx all the same.
func targetOf(db *pgdb.DB, table string) *jsonTarget {
	cc := db.Pool().Config().ConnConfig
	t := &jsonTarget{Host: cc.Host, Port: cc.Port, Database: cc.Database, Table: table}
	if t.Database == "" {
		// The server's default: the user's name.
		t.Database = cc.User
	}
	if pw := cc.Password; len(pw) >= 3 {
		for _, f := range []*string{&t.Host, &t.Database, &t.Table} {
			if strings.Contains(*f, pw) {
				*f = "xxxxx"
			}
		}
	}
	return t
}

// String is the target as the text output names it.
func (t *jsonTarget) String() string {
	return fmt.Sprintf("database %s on %s:%d, table %s", t.Database, t.Host, t.Port, t.Table)
}

// targetLine prints the target before a command's first change or at the
// head of its report; JSON documents carry it as "target" instead. It goes
// to stderr with the other messages: stdout carries results only, and a
// command that fails prints nothing there.
func (p *printer) targetLine(t *jsonTarget) {
	p.target = t
	if p.json || p.quiet {
		return
	}
	p.flush()
	fmt.Fprintf(p.stderr, "%s %s\n", p.paint(color.Bold)("target:"), t)
}

// withTarget puts "target" first in the JSON object doc when the command
// has a target; other documents pass unchanged.
func withTarget(doc []byte, t *jsonTarget) []byte {
	doc = bytes.TrimSpace(doc)
	if t == nil || len(doc) < 2 || doc[0] != '{' {
		return doc
	}
	tb, err := json.Marshal(t)
	if err != nil {
		return doc
	}
	out := append([]byte(`{"target":`), tb...)
	if rest := bytes.TrimSpace(doc[1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, doc[1:]...)
}
