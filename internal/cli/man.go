package cli

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// manCommand prints the man page, built from the command definitions so it
// never drifts from --help. Hidden: it exists for packaging (goreleaser
// writes manpages/pgmig.1 with it), not for everyday use.
func (a *cliApp) manCommand() *cli.Command {
	return &cli.Command{
		Name:      "man",
		Usage:     "print the man page (roff, section 1)",
		UsageText: "pgmig man > pgmig.1 && man ./pgmig.1",
		Hidden:    true,
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usagef("man takes no arguments")
			}
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return fmt.Errorf("man: %w", err)
			}
			if _, err := io.WriteString(a.stdout, page); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			return nil
		},
	}
}
