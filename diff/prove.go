package diff

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmig/pgmig/check"
	"github.com/pgmig/pgmig/internal/regfile"
	"github.com/pgmig/pgmig/lint"
	"github.com/pgmig/pgmig/runner"
	"github.com/pgmig/pgmig/schema"
	"github.com/pgmig/pgmig/source"
)

// ProveOptions tune Prove. The zero value works.
type ProveOptions struct {
	// Plan is passed to Plan.
	Plan Options
	// Name is the new migration's name; empty means "diff".
	Name string
	// Runner is the settings of the runner that builds the current schema
	// and applies the new migration: its tracking table (empty means
	// runner.DefaultTable) is left out of both schemas.
	Runner runner.Options
	// Logger gets the scratch databases' lifecycle. Nil discards.
	Logger *slog.Logger
}

// Proposal is a migration Prove has proven: the files to write into the
// source directory, in order, and what they do. When there is nothing to
// change, Migration.Empty() is true and Files is empty.
//
// It is one file, or two when the up has statements that must run outside
// a transaction after ones that need not: then the first file runs in one
// transaction, and the second, named NAME_concurrently, one statement at
// a time. Each file's down undoes its own up, so that rolling back one
// step, or verifying each, works as for any migration.
type Proposal struct {
	Files     []File
	Migration *Migration
}

// File is one migration file of a Proposal.
type File struct {
	Name string // "005_diff.sql", named as pgmig create names files
	Text string
}

// ProofError reports a generated migration that does not do what it
// should: after its up the schema is not the desired one, after its down
// not the current one, or pgmig lint finds an error in it. Nothing is
// written when Prove returns it.
type ProofError struct {
	Step    string   // "up", "down" or "lint"
	Objects []string // the objects that differ ("column public.t.c"), or the lint rules
	Diff    string   // a unified diff of the schemas, or the lint findings
}

func (e *ProofError) Error() string {
	switch e.Step {
	case "lint":
		return "the generated migration does not pass lint:\n" + e.Diff
	case "up":
		return fmt.Sprintf("after the generated up, the schema differs from the desired one in %s\n%s", strings.Join(e.Objects, ", "), e.Diff)
	}
	return fmt.Sprintf("after the generated down, the schema differs from the current one in %s\n%s", strings.Join(e.Objects, ", "), e.Diff)
}

// ApplyError reports a generated migration that failed while Prove applied
// it on the scratch database: a statement the planner wrote that the
// server refused (a type change with no cast, say). Only the scratch
// database saw it, and nothing is written.
type ApplyError struct {
	Step string // "up" or "down"
	File string // the file, when the plan is two files
	Err  error  // the runner's error, a *runner.MigrationError for a statement
}

func (e *ApplyError) Error() string {
	what := "the generated " + e.Step
	if e.File != "" {
		what += " (" + e.File + ")"
	}
	return fmt.Sprintf("%s failed on the scratch database: %v", what, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Prove writes the next migration of the source directory migrations:
// it builds the schema the migrations make on one scratch database
// (pgmig_diff_…, check.NewScratch, on server's server) and desired (SQL text, as
// DesiredSQL reads it) on another, plans the change, then applies the new
// migration's up to the first and checks its schema equals the second's,
// applies its down and checks it equals what it was, and lints it after
// the migrations before it. Both databases are dropped however it ends.
// It writes nothing: the caller writes Proposal.File when it returns no
// error.
func Prove(ctx context.Context, server *pgxpool.Pool, migrations fs.FS, desired string, opts ProveOptions) (*Proposal, error) {
	name := opts.Name
	if name == "" {
		name = "diff"
	}
	fileName, err := source.NextFileName(migrations, name)
	if err != nil {
		return nil, err
	}
	files, err := rootSQL(migrations)
	if err != nil {
		return nil, err
	}
	migs, err := source.FromFS(files).Migrations(ctx)
	if err != nil {
		return nil, err
	}
	table := opts.Runner.Table
	if table == "" {
		table = runner.DefaultTable
	}
	snapOpts := schema.Options{Exclude: []string{table}}

	cur, err := check.NewScratch(ctx, server, "pgmig_diff_", opts.Logger)
	if err != nil {
		return nil, err
	}
	defer cur.Drop()
	des, err := check.NewScratch(ctx, server, "pgmig_diff_", opts.Logger)
	if err != nil {
		return nil, err
	}
	defer des.Drop()

	r, err := runner.New(cur.Pool, source.FromFS(files), opts.Runner)
	if err != nil {
		return nil, err
	}
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		return nil, fmt.Errorf("build the current schema: %w", err)
	}
	if err := buildDesired(ctx, des.Pool, desired); err != nil {
		return nil, err
	}
	curCat, err := schema.Inspect(ctx, cur.Pool, snapOpts)
	if err != nil {
		return nil, err
	}
	desCat, err := schema.Inspect(ctx, des.Pool, snapOpts)
	if err != nil {
		return nil, err
	}
	planOpts := opts.Plan
	if planOpts.Castable == nil {
		// The desired database knows every type either schema names.
		planOpts.Castable = ServerCasts(ctx, des.Pool)
	}
	m, err := Plan(curCat, desCat, planOpts)
	if err != nil {
		return nil, err
	}
	if m.Empty() {
		return &Proposal{Migration: m}, nil
	}
	if _, _, ok := m.Split(); ok {
		return proveSplit(ctx, cur.Pool, files, migs, fileName, name, curCat, desCat, m, des.Pool, snapOpts, opts)
	}
	file := m.File()
	files[fileName] = &fstest.MapFile{Data: []byte(file)}
	all, err := source.FromFS(files).Migrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("the generated migration does not parse: %w", err)
	}
	if err := lintNew(all, len(migs)); err != nil {
		return nil, err
	}
	before, err := schema.Take(ctx, cur.Pool, snapOpts)
	if err != nil {
		return nil, err
	}
	want, err := schema.Take(ctx, des.Pool, snapOpts)
	if err != nil {
		return nil, err
	}
	r, err = runner.New(cur.Pool, source.FromFS(files), opts.Runner)
	if err != nil {
		return nil, err
	}
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		return nil, &ApplyError{Step: "up", Err: err}
	}
	if err := same(ctx, cur.Pool, snapOpts, want, desCat, "up", m.DownReorders); err != nil {
		return nil, err
	}
	if _, err := r.Rollback(ctx, runner.RollbackOptions{Steps: 1}); err != nil {
		return nil, &ApplyError{Step: "down", Err: err}
	}
	if err := same(ctx, cur.Pool, snapOpts, before, curCat, "down", m.DownReorders); err != nil {
		return nil, err
	}
	return &Proposal{Files: []File{{fileName, file}}, Migration: m}, nil
}

// proveSplit writes and proves the two files of a plan whose up ends in
// statements that must run outside a transaction. The first file's up is
// applied, and the schema it leaves (between the current and the desired
// one) inspected, to plan each file's down: the second's turns the
// desired schema back into that one, the first's that one into the
// current schema.
func proveSplit(ctx context.Context, pool *pgxpool.Pool, files fstest.MapFS, migs []source.Migration, name1, name string,
	curCat, desCat *schema.Catalog, m *Migration, desPool *pgxpool.Pool, snapOpts schema.Options, opts ProveOptions) (*Proposal, error) {
	head, tail, _ := m.Split()
	before, err := schema.Take(ctx, pool, snapOpts)
	if err != nil {
		return nil, err
	}
	want, err := schema.Take(ctx, desPool, snapOpts)
	if err != nil {
		return nil, err
	}
	// The checksum covers the up section only, so the first file may be
	// applied with an empty down and given its down after.
	files[name1] = &fstest.MapFile{Data: []byte(m.Render(head, nil, ""))}
	r, err := runner.New(pool, source.FromFS(files), opts.Runner)
	if err != nil {
		return nil, err
	}
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		return nil, &ApplyError{Step: "up", File: name1, Err: err}
	}
	midCat, err := schema.Inspect(ctx, pool, snapOpts)
	if err != nil {
		return nil, err
	}
	mid, err := schema.Take(ctx, pool, snapOpts)
	if err != nil {
		return nil, err
	}
	down1, err := Plan(midCat, curCat, Options{AllowDestructive: true, LockTimeout: m.LockTimeout, reverse: true})
	if err != nil {
		return nil, fmt.Errorf("plan the down of %s: %w", name1, err)
	}
	down2, err := Plan(desCat, midCat, Options{AllowDestructive: true, LockTimeout: m.LockTimeout, reverse: true})
	if err != nil {
		return nil, fmt.Errorf("plan the down of the second file: %w", err)
	}
	text1 := m.Render(head, down1.Up, "")
	files[name1] = &fstest.MapFile{Data: []byte(text1)}
	name2, err := source.NextFileName(files, name+"_concurrently")
	if err != nil {
		return nil, err
	}
	text2 := m.Render(tail, down2.Up, fmt.Sprintf("Second part of %s: what must run outside a transaction, one statement at a time.", name1))
	files[name2] = &fstest.MapFile{Data: []byte(text2)}
	all, err := source.FromFS(files).Migrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("the generated migrations do not parse: %w", err)
	}
	if err := lintNew(all, len(migs)); err != nil {
		return nil, err
	}
	if err := lintNew(all, len(migs)+1); err != nil {
		return nil, err
	}
	if r, err = runner.New(pool, source.FromFS(files), opts.Runner); err != nil {
		return nil, err
	}
	if _, err := r.Up(ctx, runner.UpOptions{}); err != nil {
		return nil, &ApplyError{Step: "up", File: name2, Err: err}
	}
	if err := same(ctx, pool, snapOpts, want, desCat, "up", nil); err != nil {
		return nil, err
	}
	if _, err := r.Rollback(ctx, runner.RollbackOptions{Steps: 1}); err != nil {
		return nil, &ApplyError{Step: "down", File: name2, Err: err}
	}
	if err := same(ctx, pool, snapOpts, mid, midCat, "down", down2.upReorders); err != nil {
		return nil, err
	}
	if _, err := r.Rollback(ctx, runner.RollbackOptions{Steps: 1}); err != nil {
		return nil, &ApplyError{Step: "down", File: name1, Err: err}
	}
	if err := same(ctx, pool, snapOpts, before, curCat, "down", down1.upReorders); err != nil {
		return nil, err
	}
	return &Proposal{Files: []File{{name1, text1}, {name2, text2}}, Migration: m}, nil
}

// same checks that the database's schema equals want, both as the text
// snapshot verify and drift compare and as the catalog the planner reads
// (which also holds comments and grants): planning from it to wantCat
// must find nothing to do.
func same(ctx context.Context, pool *pgxpool.Pool, opts schema.Options, want *schema.Snapshot, wantCat *schema.Catalog, step string, reorders []string) error {
	got, err := schema.Take(ctx, pool, opts)
	if err != nil {
		return err
	}
	got.Label, want.Label = "after "+step, "wanted"
	if d, objects := schema.Diff(got, want); len(objects) > 0 {
		if step == "down" && len(reorders) > 0 {
			objects = slices.DeleteFunc(objects, func(o string) bool { return slices.Contains(reorders, o) })
		}
		if len(objects) > 0 {
			return &ProofError{Step: step, Objects: objects, Diff: d}
		}
	}
	gotCat, err := schema.Inspect(ctx, pool, opts)
	if err != nil {
		return err
	}
	m, err := Plan(gotCat, wantCat, Options{AllowDestructive: true})
	if err != nil {
		return fmt.Errorf("compare the schema after the generated %s: %w", step, err)
	}
	if !m.Empty() {
		var objects []string
		for _, c := range m.Changes {
			objects = append(objects, c.Object)
		}
		return &ProofError{Step: step, Objects: objects, Diff: m.File()}
	}
	return nil
}

// lintNew lints every migration and returns the error-level findings in
// the new one, the one at index n.
func lintNew(all []source.Migration, n int) error {
	res := lint.Lint(all, lint.Options{})
	var lines, rules []string
	for _, f := range res.Findings {
		if f.Level == lint.Error && f.Version == all[n].Version {
			lines = append(lines, fmt.Sprintf("%s:%d:%d: %s: %s", f.File, f.Line, f.Column, f.Rule, f.Message))
			rules = append(rules, f.Rule)
		}
	}
	if len(lines) > 0 {
		return &ProofError{Step: "lint", Objects: rules, Diff: strings.Join(lines, "\n")}
	}
	return nil
}

// rootSQL copies the .sql files at the root of fsys into a MapFS, to add
// the new migration to.
func rootSQL(fsys fs.FS) (fstest.MapFS, error) {
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migrations: %w", err)
		}
		out[e.Name()] = &fstest.MapFile{Data: b}
	}
	return out, nil
}

// DesiredSQL reads the desired schema at path: a .sql file, or a
// directory whose .sql files (not its subdirectories') are read in name
// order.
func DesiredSQL(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("desired schema: %w", err)
	}
	if !st.IsDir() {
		b, err := regfile.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("desired schema: %w", err)
		}
		return string(b), nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return "", fmt.Errorf("desired schema: %w", err)
	}
	var b strings.Builder
	n := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		data, err := regfile.ReadFile(filepath.Join(path, e.Name()))
		if err != nil {
			return "", fmt.Errorf("desired schema: %w", err)
		}
		b.Write(data)
		b.WriteString("\n;\n")
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("desired schema: no .sql file in %s", path)
	}
	return b.String(), nil
}

// DesiredError is a statement of the desired schema the server refused.
type DesiredError struct {
	Line int // 1-based line of the statement in the desired SQL
	Err  error
}

func (e *DesiredError) Error() string {
	return fmt.Sprintf("desired schema, line %d: %v", e.Line, e.Err)
}
func (e *DesiredError) Unwrap() error { return e.Err }

// buildDesired runs the desired SQL one statement at a time on one
// connection (so that pg_dump's set_config('search_path', …) holds for
// the rest), skipping pg_dump's \restrict and \unrestrict lines.
func buildDesired(ctx context.Context, pool *pgxpool.Pool, sql string) error {
	lines := strings.Split(sql, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, `\restrict `) || strings.HasPrefix(t, `\unrestrict `):
			lines[i] = ""
		case strings.HasPrefix(t, `\`):
			return &DesiredError{Line: i + 1, Err: fmt.Errorf("psql meta-command %q: write plain SQL", strings.Fields(t)[0])}
		}
	}
	sql = strings.Join(lines, "\n")
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("desired schema: %w", err)
	}
	defer conn.Release()
	for _, st := range source.Split(sql) {
		if st.Empty() {
			continue
		}
		if _, err := conn.Exec(ctx, st.Text); err != nil {
			line, _ := source.LineCol(sql, st.Start)
			return &DesiredError{Line: line, Err: err}
		}
	}
	return nil
}
