package cli

import (
	"github.com/urfave/cli/v2"
)

// description opens `pgmig --help` and the man page.
const description = `Quick start:
   pgmig create add_orders      write migrations/NNN_add_orders.sql
   pgmig validate               do the files and the history agree?
   pgmig up                     apply everything pending
   pgmig status                 every migration and its state

The database is --database-url, else PGMIG_DATABASE_URL, else DATABASE_URL,
else the libpq defaults (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD,
~/.pgpass, the local socket). Global options may also follow the command.

Exit codes: 0 success (also nothing to do), 1 runtime failure (SQL error,
connection, unreadable source), 2 usage error, 3 validation failure
(checksum, missing file, duplicate version, bad file name, missing down,
out-of-order), 4 lock not acquired within --lock-timeout, 130 stopped by
SIGINT, 143 stopped by SIGTERM.`

// decorateHelp hides defaults that say nothing ("default: false", "default: 0"). Value placeholders come
// from the `quoted` word in each flag's usage.
func decorateHelp(app *cli.App) {
	for _, f := range app.Flags {
		decorate(f)
	}
	for _, cmd := range app.Commands {
		for _, f := range cmd.Flags {
			decorate(f)
		}
	}
}

func decorate(f cli.Flag) {
	switch f := f.(type) {
	case *cli.DurationFlag:
		if f.Value == 0 && f.DefaultText == "" {
			f.DefaultText = "off"
		}
	case *cli.BoolFlag:
		f.DisableDefaultText = true
	}
}
