package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/source"
)

func (a *cliApp) createCommand() *cli.Command {
	return &cli.Command{
		Name:  "create",
		Usage: "write the next migration file in the source directory, in the directory's style",
		UsageText: "pgmig create [--timestamp | --sequential] NAME\n\n" +
			"Follows the newest migration: 14-digit timestamp versions give the current UTC time,\n" +
			".up.sql/.down.sql pairs give a pair, Flyway V files give V<next>__NAME.sql, anything\n" +
			"else the next number, zero-padded like its neighbours; an empty directory gets 001_NAME.sql.\n\n" +
			"Example:\n   pgmig create add_orders   # writes migrations/001_add_orders.sql in a new project",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "timestamp", Usage: "number it with the current UTC time (YYYYMMDDHHMMSS), whatever the directory does"},
			&cli.BoolFlag{Name: "sequential", Usage: "number it with the next number after the newest version, whatever the directory does"},
		},
		Action: a.create,
	}
}

func (a *cliApp) create(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("create takes one argument, the migration's name, e.g. `pgmig create add_orders`")
	}
	if c.Bool("timestamp") && c.Bool("sequential") {
		return usagef("--timestamp and --sequential: choose one")
	}
	dir, err := sourceDir(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	files, err := source.NewMigration(os.DirFS(dir), c.Args().First(), source.CreateOptions{
		Timestamp: c.Bool("timestamp"), Sequential: c.Bool("sequential"),
	})
	var ne *source.NameError
	if errors.As(err, &ne) {
		return usage(err)
	}
	if err != nil {
		return err
	}
	var paths []string
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		if err := writeNew(path, f.Body); err != nil {
			// A pair is written whole or not at all.
			for _, p := range paths {
				os.Remove(p)
			}
			return err
		}
		paths = append(paths, path)
	}
	a.out.created(paths)
	return nil
}
