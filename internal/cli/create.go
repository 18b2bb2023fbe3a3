package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/source"
)

func (a *cliApp) createCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "write the next-numbered migration file in the source directory",
		UsageText: "pgmig create NAME\n\nExample:\n   pgmig create add_orders   # writes migrations/005_add_orders.sql",
		Action:    a.create,
	}
}

func (a *cliApp) create(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("create takes one argument, the migration's name, e.g. `pgmig create add_orders`")
	}
	spec := c.String("source")
	if spec == "builtin" || strings.Contains(spec, "://") && !strings.HasPrefix(spec, "file://") {
		return usagef("create writes into a directory; --source %q is not one", spec)
	}
	dir := strings.TrimPrefix(spec, "file://")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	name, err := source.NextFileName(os.DirFS(dir), c.Args().First())
	var ne *source.NameError
	if errors.As(err, &ne) {
		return usage(err)
	}
	if err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if _, err := io.WriteString(f, source.Template()); err != nil {
		f.Close()
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	a.out.created(path)
	return nil
}
