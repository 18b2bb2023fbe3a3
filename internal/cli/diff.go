package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fatih/color"
	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/diff"
	"github.com/pgmig/pgmig/internal/regfile"
	"github.com/pgmig/pgmig/runner"
)

func (a *cliApp) diffCommand() *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "write the next migration from the schema you want, proven up and down on scratch databases",
		UsageText: "pgmig diff --desired schema.sql [--name NAME] [--dry-run] [--allow-destructive] [--rename OLD=NEW]\n\n" +
			"Example:\n   pgmig diff --desired schema.sql --name add_orders   # writes migrations/005_add_orders.sql",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "desired", Usage: "the schema as it should be: a `PATH` to a .sql file, or a directory of them applied in name order (plain DDL or pg_dump --schema-only)", Required: true},
			&cli.StringFlag{Name: "name", Value: "diff", Usage: "the new migration's `NAME`"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the migration instead of writing it"},
			&cli.BoolFlag{Name: "allow-destructive", Usage: "allow changes that lose data: dropped tables, columns, types and enum values, narrowed types"},
			&cli.StringSliceFlag{Name: "rename", Usage: "`OLD=NEW`: a table or column renamed, not dropped and added (repeatable)"},
		},
		Action: a.diff,
	}
}

func (a *cliApp) diff(c *cli.Context) error {
	if c.NArg() != 0 {
		return usagef("diff takes no arguments; the desired schema is --desired PATH")
	}
	dir, err := sourceDir(c)
	if err != nil {
		return err
	}
	desired, err := diff.DesiredSQL(c.String("desired"))
	var de *diff.DesiredError
	switch {
	case errors.As(err, &de):
		return invalid(fmt.Errorf("--desired: %w", err))
	case errors.Is(err, fs.ErrNotExist):
		return usagef("--desired %s: no such file or directory", c.String("desired"))
	case errors.Is(err, regfile.ErrNotRegular):
		// A FIFO would hang the run, /dev/zero fill its memory.
		return usage(fmt.Errorf("--desired: %w", err))
	case err != nil:
		return fmt.Errorf("--desired: %w", err)
	}
	db, err := a.connect(c)
	if err != nil {
		return err
	}
	defer db.Close()
	a.out.targetLine(targetOf(db, c.String("table")))
	prop, err := diff.Prove(c.Context, db.Pool(), os.DirFS(dir), desired, diff.ProveOptions{
		Plan:   diff.Options{AllowDestructive: c.Bool("allow-destructive"), Renames: c.StringSlice("rename")},
		Name:   c.String("name"),
		Runner: runner.Options{Table: c.String("table")},
		Logger: a.logger,
	})
	var (
		destructive *diff.DestructiveError
		rename      *diff.RenameError
	)
	switch {
	case errors.As(err, &destructive) && len(destructive.Renames) > 0:
		// The message ends in the renames it suggests (cliText names
		// their flag): the other remedy gets a line of its own.
		return invalid(fmt.Errorf("%w\notherwise pass --allow-destructive to write it anyway", err))
	case errors.As(err, &destructive):
		return invalid(fmt.Errorf("%w; pass --allow-destructive to write it anyway", err))
	case errors.As(err, &rename):
		return usage(fmt.Errorf("--rename: %w", err))
	case err != nil:
		return err
	}
	if c.Bool("dry-run") || prop.Migration.Empty() {
		a.out.diffed(prop, nil)
		return nil
	}
	var written []string
	for _, f := range prop.Files {
		path := filepath.Join(dir, f.Name)
		if err := writeNew(path, f.Text); err != nil {
			// Nothing half-written: a pair of files goes in whole or not at all.
			for _, w := range written {
				os.Remove(w)
			}
			return err
		}
		written = append(written, path)
	}
	a.out.diffed(prop, written)
	return nil
}

// sourceDir is --source as a directory that files can be written into.
func sourceDir(c *cli.Context) (string, error) {
	spec := c.String("source")
	if spec == "builtin" || strings.Contains(spec, "://") && !strings.HasPrefix(spec, "file://") {
		return "", usagef("%s writes into a directory; --source %q is not one", c.Command.Name, spec)
	}
	return strings.TrimPrefix(spec, "file://"), nil
}

// writeNew writes text to a file that must not exist yet.
func writeNew(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

type jsonDiff struct {
	Created string        `json:"created,omitempty"`
	Files   []string      `json:"files,omitempty"`
	SQL     *string       `json:"sql,omitempty"`
	Changes []diff.Change `json:"changes"`
	Hazards []diff.Hazard `json:"hazards,omitempty"`
}

// diffed prints what diff wrote (written) or, with --dry-run or nothing
// to change, would write.
func (p *printer) diffed(prop *diff.Proposal, written []string) {
	m := prop.Migration
	if p.json {
		doc := jsonDiff{Changes: m.Changes, Hazards: m.Hazards}
		if doc.Changes == nil {
			doc.Changes = []diff.Change{}
		}
		if len(written) > 0 {
			doc.Created, doc.Files = written[0], written
		} else if !m.Empty() {
			sql := joinFiles(prop.Files)
			doc.SQL = &sql
		}
		p.writeJSON(doc)
		return
	}
	if m.Empty() {
		if !p.quiet {
			fmt.Fprintln(p.stdout, "nothing to change: the source's migrations already build the desired schema")
		}
		return
	}
	for _, h := range m.Hazards {
		fmt.Fprintf(p.stderr, "%s %s: %s\n", p.paint(color.FgYellow)("warning:"), h.Object, h.Message)
	}
	if len(written) == 0 {
		fmt.Fprint(p.stdout, joinFiles(prop.Files))
		return
	}
	if p.quiet {
		return
	}
	for _, w := range written {
		fmt.Fprintf(p.stdout, "created %s\n", w)
	}
	for _, ch := range m.Changes {
		fmt.Fprintf(p.stdout, "  %-7s %s\n", ch.Action, ch.Object)
	}
	fmt.Fprintf(p.stdout, "%s, proven up and down on scratch databases\n", plural(len(m.Changes), "change"))
}

// joinFiles is the files' text as one, each headed by its name when there
// are several.
func joinFiles(fs []diff.File) string {
	if len(fs) == 1 {
		return fs[0].Text
	}
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "-- file: %s\n%s", f.Name, f.Text)
	}
	return b.String()
}
