package runner

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmig/pgmig/source"
)

// Tool names another migration tool whose history Adopt can read.
type Tool string

const (
	// GolangMigrate: schema_migrations(version bigint, dirty boolean),
	// one row holding the current version.
	GolangMigrate Tool = "golang-migrate"
	// Goose: goose_db_version(id, version_id, is_applied, tstamp), a log
	// in which the newest row of each version says whether it is applied.
	Goose Tool = "goose"
	// Dbmate: schema_migrations(version varchar), one row per applied
	// migration.
	Dbmate Tool = "dbmate"
	// Flyway: flyway_schema_history, one row per migration run, baseline
	// and undo, with a success flag.
	Flyway Tool = "flyway"
)

// Tools lists the tools Adopt reads, in the order help texts list them.
func Tools() []Tool { return []Tool{GolangMigrate, Goose, Dbmate, Flyway} }

// DefaultTable is the history table t keeps unless configured otherwise,
// found through the connection's search_path.
func (t Tool) DefaultTable() string {
	switch t {
	case Goose:
		return "goose_db_version"
	case Flyway:
		return "flyway_schema_history"
	}
	return "schema_migrations"
}

// AdoptError reports another tool's history that Adopt refuses to take
// over: missing, in an unexpected layout, dirty or failed, or recording
// versions that no migration file has. It matches ErrValidation: the
// database's state does not match what the command was told.
type AdoptError struct {
	Tool  Tool
	Table string // the history table as named to Adopt
	// Versions are the applied versions the files lack, when that is the
	// problem (0 for a dotted one); Vers has them whatever their form.
	Versions []int64
	Vers     []source.Version
	// Msg says what is wrong, naming the options to change as the Go API
	// does (see OptionError); Message names them otherwise.
	Msg  string
	hint *OptionError // Msg with its options marked, when it names any
}

func (e *AdoptError) Error() string {
	return fmt.Sprintf("adopt %s history from %s: %s", e.Tool, e.Table, e.Msg)
}

// Message is Error with each option the message names rendered by name,
// as OptionError.Message does: a CLI names its flags.
func (e *AdoptError) Message(name func(option string) string) string {
	msg := e.Msg
	if e.hint != nil {
		msg = e.hint.Message(name)
	}
	return fmt.Sprintf("adopt %s history from %s: %s", e.Tool, e.Table, msg)
}

func (e *AdoptError) Is(target error) bool { return target == ErrValidation }

// Adopt takes over the history that another migration tool kept in table
// ("" means the tool's default table): it records in pgmig's tracking table,
// without running anything, every migration that tool applied, with the
// name and checksum of the migration's file now, so that Up goes on with
// the rest. Like Baseline it refuses a tracking table that already holds
// history. It refuses a history that is dirty (golang-migrate) or records a
// failure (Flyway), and applied versions that no migration file has, with
// an *AdoptError. The foreign table is read under the lock, and the rows
// are written in one transaction; the foreign table is left as it is.
//
// golang-migrate keeps only the current version: every migration up to
// it counts as applied. For goose, a version counts when its newest row
// says is_applied. For Flyway, a successful versioned row counts unless a
// later undo row (UNDO_SQL and the like) or a DELETE row undid it, and a
// BASELINE row counts every migration up to its version.
func (r *Runner) Adopt(ctx context.Context, from Tool, table string) (Report, error) {
	if !slices.Contains(Tools(), from) {
		names := make([]string, len(Tools()))
		for i, t := range Tools() {
			names[i] = string(t)
		}
		return Report{}, optionError("{Adopt.from} %q: want one of %s", from, strings.Join(names, ", "))
	}
	if table == "" {
		table = from.DefaultTable()
	}
	parts, err := ParseTable(table)
	if err != nil {
		return Report{}, optionError("{Adopt.table} %q: %v", table, err)
	}
	ident := pgx.Identifier(parts).Sanitize()
	ms, err := r.migrations(ctx)
	if err != nil {
		return Report{}, err
	}
	refuse := func(format string, a ...any) error {
		h := optionError(format, a...)
		return &AdoptError{Tool: from, Table: table, Msg: h.Message(func(o string) string { return o }), hint: h}
	}
	var rep Report
	err = r.locked(ctx, false, func(s *session) error {
		var reg *string
		if err := s.conn.QueryRow(ctx, "SELECT to_regclass($1)::text", ident).Scan(&reg); err != nil {
			return fmt.Errorf("look up %s history table %s: %w", from, table, err)
		}
		if reg == nil {
			return refuse("no such table; check {Adopt.from}, and name the table with {Adopt.table} if %s was configured to keep its history elsewhere", from)
		}
		recs, err := s.history(ctx)
		if err != nil {
			return err
		}
		if len(recs) > 0 {
			return &HistoryError{Msg: fmt.Sprintf("adopt refused: %s already records %d migration(s); adopt is for a database with no pgmig history", s.tr.name(), len(recs))}
		}
		applied, err := readForeign(ctx, s.conn, from, ident, ms, refuse)
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "42") {
				// Undefined column, wrong type: not the tool's layout.
				return refuse("the table does not look like %s's history table: %s (SQLSTATE %s)", from, pe.Message, pe.Code)
			}
			return err
		}
		var missing []source.Version
		for _, v := range applied {
			if !hasVersion(ms, v) {
				missing = append(missing, v)
			}
		}
		if len(missing) > 0 {
			list := make([]string, len(missing))
			ns := make([]int64, len(missing))
			for i, v := range missing {
				list[i], ns[i] = v.String(), intOf(v)
			}
			ae := refuse("it records version(s) %s as applied, but no migration file has them; add those files to the source, or point {New.src} at the directory %s ran from",
				strings.Join(list, ", "), from).(*AdoptError)
			ae.Versions, ae.Vers = ns, missing
			return ae
		}
		var repeatables map[string]string // name: the checksum to record
		if from == Flyway {
			if repeatables, err = readFlywayRepeatables(ctx, s.conn, ident, ms); err != nil {
				return err
			}
		}
		if len(applied) == 0 && len(repeatables) == 0 {
			return nil
		}
		if err := s.createTable(ctx); err != nil {
			return err
		}
		var record []*source.Migration
		for i := range ms {
			if !ms[i].Repeatable && slices.ContainsFunc(applied, func(v source.Version) bool { return v.Compare(verOf(ms[i])) == 0 }) {
				record = append(record, &ms[i])
			}
		}
		if len(repeatables) > 0 {
			if err := s.tr.upgrade(ctx, s.conn); err != nil {
				return err
			}
		} else if err := s.upgradeFor(ctx, record); err != nil {
			return err
		}
		for i := range ms {
			if sum, ok := repeatables[ms[i].Name]; ok && ms[i].Repeatable {
				m := ms[i] // recorded with the checksum that says whether it is outdated
				m.Checksum = sum
				record = append(record, &m)
			}
		}
		if err := s.tr.record(ctx, s.conn, record); err != nil {
			return fmt.Errorf("adopt: %w", err)
		}
		for _, m := range record {
			rep.Baselined = append(rep.Baselined, planned(m, Up))
			rep.advance(verOf(*m), false)
		}
		return nil
	})
	return rep, err
}

// readFlywayRepeatables finds the repeatable migrations of ms that
// Flyway ran (rows of type SQL without a version, described by the file's
// description with '_' read as ' '; the newest successful row counts).
// For each it returns the checksum to record: the file's own when Flyway
// ran the file as it is now, else one that differs from it, so that
// status shows it outdated and up runs it again, as Flyway would.
func readFlywayRepeatables(ctx context.Context, conn *pgx.Conn, ident string, ms []source.Migration) (map[string]string, error) {
	rows, err := conn.Query(ctx, `SELECT description, checksum FROM `+ident+
		` WHERE version IS NULL AND type = 'SQL' AND success ORDER BY installed_rank`)
	if err != nil {
		return nil, fmt.Errorf("read repeatable migrations from %s: %w", ident, err)
	}
	ran := map[string]*int32{}
	var desc string
	var sum *int32
	if _, err := pgx.ForEachRow(rows, []any{&desc, &sum}, func() error {
		ran[desc] = sum
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read repeatable migrations from %s: %w", ident, err)
	}
	out := map[string]string{}
	for i := range ms {
		m := &ms[i]
		if !m.Repeatable {
			continue
		}
		sum, ok := ran[strings.ReplaceAll(m.Name, "_", " ")]
		switch {
		case !ok:
			continue // never run by Flyway: pending
		case sum != nil && *sum == flywayChecksum(m.Up.SQL):
			out[m.Name] = m.Checksum
		default:
			out[m.Name] = "flyway:changed since Flyway ran it"
		}
	}
	return out, nil
}

// flywayChecksum is Flyway's checksum of a file: the CRC-32 (IEEE) of its
// lines without their line breaks or a leading byte order mark, as a
// signed 32-bit integer.
func flywayChecksum(text string) int32 {
	text = strings.TrimPrefix(text, "\uFEFF")
	text = strings.NewReplacer("\r", "", "\n", "").Replace(text)
	return int32(crc32.ChecksumIEEE([]byte(text)))
}

// readForeign returns the versions the tool's history table ident records
// as applied, ascending. Only Flyway's may be dotted.
func readForeign(ctx context.Context, conn *pgx.Conn, from Tool, ident string, ms []source.Migration, refuse func(string, ...any) error) ([]source.Version, error) {
	upTo := func(v source.Version) []source.Version {
		var vs []source.Version
		for _, m := range ms {
			if !m.Repeatable && verOf(m).Compare(v) <= 0 {
				vs = append(vs, verOf(m))
			}
		}
		return vs
	}
	ints := func(ns []int64) []source.Version {
		vs := make([]source.Version, len(ns))
		for i, n := range ns {
			vs[i] = source.IntVersion(n)
		}
		return vs
	}
	switch from {
	case GolangMigrate:
		rows, err := conn.Query(ctx, `SELECT version::bigint, dirty FROM `+ident)
		if err != nil {
			return nil, err
		}
		type row struct {
			Version int64
			Dirty   bool
		}
		rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			return nil, err
		}
		switch {
		case len(rs) == 0:
			return nil, nil
		case len(rs) > 1:
			return nil, refuse("it holds %d rows, but golang-migrate keeps one, the current version", len(rs))
		case rs[0].Dirty:
			return nil, refuse("version %d is dirty: a migration failed part-way and may be half-applied; fix the database, run `migrate force VERSION` to record the version it is really at, then adopt", rs[0].Version)
		case !hasVersion(ms, source.IntVersion(rs[0].Version)):
			// Reported with the other tools' missing versions.
			return ints([]int64{rs[0].Version}), nil
		}
		return upTo(source.IntVersion(rs[0].Version)), nil

	case Goose:
		rows, err := conn.Query(ctx, `SELECT version_id::bigint, is_applied FROM `+ident+` ORDER BY id`)
		if err != nil {
			return nil, err
		}
		latest := map[int64]bool{}
		var v int64
		var ok bool
		if _, err := pgx.ForEachRow(rows, []any{&v, &ok}, func() error {
			if v != 0 { // goose's own row, written when it creates the table
				latest[v] = ok
			}
			return nil
		}); err != nil {
			return nil, err
		}
		var vs []int64
		for v, ok := range latest {
			if ok {
				vs = append(vs, v)
			}
		}
		slices.Sort(vs)
		return ints(vs), nil

	case Dbmate:
		var dirty bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'dirty' AND NOT attisdropped)`, ident).Scan(&dirty); err != nil {
			return nil, err
		}
		if dirty {
			return nil, refuse("the table has a dirty column, as golang-migrate's does; use {Adopt.from} golang-migrate")
		}
		rows, err := conn.Query(ctx, `SELECT version::text FROM `+ident)
		if err != nil {
			return nil, err
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		var vs []int64
		for _, t := range texts {
			v, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
			if err != nil || v <= 0 {
				return nil, refuse("version %q is not a positive whole number", t)
			}
			vs = append(vs, v)
		}
		slices.Sort(vs)
		return ints(slices.Compact(vs)), nil

	case Flyway:
		rows, err := conn.Query(ctx, `SELECT installed_rank, version, type, success FROM `+ident+` ORDER BY installed_rank`)
		if err != nil {
			return nil, err
		}
		var (
			rank     int64
			version  *string
			typ      string
			success  bool
			applied  = map[string]source.Version{} // by canonical version: 1.1 and 1.01 are one
			baseline source.Version
		)
		if _, err := pgx.ForEachRow(rows, []any{&rank, &version, &typ, &success}, func() error {
			if !success {
				v := "none"
				if version != nil {
					v = *version
				}
				return refuse("installed_rank %d (version %s, %s) failed (success = false): fix the database and run `flyway repair`, then adopt", rank, v, typ)
			}
			if version == nil {
				return nil // the schema marker, a repeatable migration
			}
			// Flyway writes a dotted version with '.', as its file name
			// reads with '_' taken for '.'.
			v, err := source.ParseVersion(strings.ReplaceAll(*version, "_", "."))
			if err != nil {
				return refuse("installed_rank %d has version %q, which is no Flyway version pgmig reads: %v", rank, *version, err)
			}
			switch {
			case typ == "BASELINE" || strings.HasSuffix(typ, "_BASELINE"):
				if v.Compare(baseline) > 0 {
					baseline = v
				}
			case strings.HasPrefix(typ, "UNDO_") || typ == "DELETE":
				delete(applied, v.Canonical())
			case typ == "SCHEMA":
			default:
				applied[v.Canonical()] = v
			}
			return nil
		}); err != nil {
			return nil, err
		}
		if !baseline.IsZero() {
			for _, v := range upTo(baseline) {
				applied[v.Canonical()] = v
			}
		}
		var vs []source.Version
		for _, v := range applied {
			vs = append(vs, v)
		}
		slices.SortFunc(vs, source.Version.Compare)
		return vs, nil
	}
	return nil, fmt.Errorf("unknown tool %q", from)
}
