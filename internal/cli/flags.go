package cli

import (
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/pgmig/pgmig/runner"
)

// The categories of the global flags in `pgmig --help`.
const (
	catConnection = "Connection"
	catMigrations = "Migrations"
	catOutput     = "Output"
	catLocking    = "Locking"
	catTargets    = "Many targets (up, status, validate)"
)

// globalFlags are the flags of every command; hoistGlobalFlags lets them
// follow the command too.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "database-url", Category: catConnection, Aliases: []string{"d"}, Usage: "the database: a postgres:// `URL` or a keyword/value string; unset uses the libpq defaults (PGHOST, PGUSER, ~/.pgpass, …)", EnvVars: []string{"PGMIG_DATABASE_URL", "DATABASE_URL"}},
		&cli.StringFlag{Name: "source", Category: catMigrations, Aliases: []string{"s"}, Value: "./migrations", Usage: "where the migrations are, `SOURCE`: a directory (DIR or file://DIR), builtin, or https://…/NAME.tar.gz|.tgz|.zip[#sha256=HEX]", EnvVars: []string{"PGMIG_SOURCE"}},
		&cli.StringFlag{Name: "table", Category: catMigrations, Value: runner.DefaultTable, Usage: "the tracking `TABLE`, table or schema.table", EnvVars: []string{"PGMIG_TABLE"}},
		&cli.StringFlag{Name: "format", Category: catOutput, Value: "text", Usage: "output `FORMAT`: text or json (one JSON document on stdout)", EnvVars: []string{"PGMIG_FORMAT"}},
		&cli.BoolFlag{Name: "no-color", Category: catOutput, Usage: "never colour the output (also NO_COLOR); colour is used only on a terminal"},
		&cli.BoolFlag{Name: "quiet", Category: catOutput, Aliases: []string{"q"}, Usage: "print only errors (and the JSON document)"},
		&cli.BoolFlag{Name: "verbose", Category: catOutput, Usage: "log what pgmig does to stderr"},
		&cli.DurationFlag{Name: "lock-timeout", Category: catLocking, Value: 5 * time.Minute, Usage: "wait up to `DURATION` for another run's lock, then exit 4", EnvVars: []string{"PGMIG_LOCK_TIMEOUT"}},
		&cli.StringFlag{Name: "lock-mode", Category: catLocking, Value: "session", Usage: "how runs exclude each other, `MODE`: session (an advisory lock) or table (a lease row, for PgBouncer transaction pooling)", EnvVars: []string{"PGMIG_LOCK_MODE"}},
		&cli.DurationFlag{Name: "lock-ttl", Category: catLocking, Value: 30 * time.Second, Usage: "time to live (`DURATION`) of a --lock-mode table lease, renewed every third of it", EnvVars: []string{"PGMIG_LOCK_TTL"}, Hidden: true},
		&cli.DurationFlag{Name: "connect-timeout", Category: catConnection, Value: 30 * time.Second, Usage: "retry for up to `DURATION` while the server is unreachable or starting up", EnvVars: []string{"PGMIG_CONNECT_TIMEOUT"}},
		&cli.BoolFlag{Name: "allow-out-of-order", Category: catMigrations, Usage: "apply pending migrations older than the newest applied one", EnvVars: []string{"PGMIG_ALLOW_OUT_OF_ORDER"}},
		&cli.BoolFlag{Name: "allow-insecure-source", Category: catMigrations, Usage: "allow an http:// --source (without TLS anyone on the way can change the SQL)", EnvVars: []string{"PGMIG_ALLOW_INSECURE_SOURCE"}},
		&cli.Int64Flag{Name: "source-max-size", Category: catMigrations, Value: 64, Usage: "largest --source archive to download, in `MIB`; unpacked it may hold 4 times as much", EnvVars: []string{"PGMIG_SOURCE_MAX_SIZE"}},
		&cli.DurationFlag{Name: "source-timeout", Category: catMigrations, Value: time.Minute, Usage: "fetching a --source archive may take up to `DURATION`, retries included", EnvVars: []string{"PGMIG_SOURCE_TIMEOUT"}},
	}
}

// safetyFlags are the global flags for running DDL without an outage.
func safetyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "ddl-lock-timeout", Category: catLocking, Usage: "lock_timeout (`DURATION`) for each transactional section; a section that hits it is rolled back and retried", EnvVars: []string{"PGMIG_DDL_LOCK_TIMEOUT"}},
		&cli.IntFlag{Name: "ddl-retries", Category: catLocking, Value: 5, Usage: "retry a section that hit --ddl-lock-timeout up to `N` times, with exponential backoff", EnvVars: []string{"PGMIG_DDL_RETRIES"}},
	}
}

// targetFlags choose many databases, or many schemas, for up, status and
// validate.
func targetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "targets", Category: catTargets, Usage: "run against each database URL of `FILE`, one per line (# comments)", EnvVars: []string{"PGMIG_TARGETS"}},
		&cli.StringFlag{Name: "schemas-query", Category: catTargets, Usage: "run against each schema the `SQL` returns (each with its own tracking table, search_path set to it)", EnvVars: []string{"PGMIG_SCHEMAS_QUERY"}},
		&cli.IntFlag{Name: "parallel", Category: catTargets, Value: 1, Usage: "run `N` targets at once", EnvVars: []string{"PGMIG_PARALLEL"}},
		&cli.IntFlag{Name: "canary", Category: catTargets, Usage: "run the first `K` targets alone and first; stop if any fails", EnvVars: []string{"PGMIG_CANARY"}},
		&cli.BoolFlag{Name: "fail-fast", Category: catTargets, Usage: "start no more targets after one fails", EnvVars: []string{"PGMIG_FAIL_FAST"}},
		&cli.StringFlag{Name: "shard", Category: catTargets, Usage: "keep only shard `I/N` of the targets (0-based; split by a hash of each target, the same whatever the list's order)", EnvVars: []string{"PGMIG_SHARD"}},
		&cli.BoolFlag{Name: "skip-locked", Category: catTargets, Usage: "up: put a target whose lock another run holds aside and take the next, coming back to it until --lock-timeout, so several runners drain one list", EnvVars: []string{"PGMIG_SKIP_LOCKED"}},
	}
}

// hoistGlobalFlags moves global flags written after the command to before
// it, so that `pgmig status --format json` means what it says: urfave/cli
// v2 reads global flags only before the command.
//
// Which flags those are, and which take a value, comes from the flag
// definitions; --help and --version stay where they are written, as they
// mean a command's help and baseline's --version after a command.
func hoistGlobalFlags(globals []cli.Flag, args []string) []string {
	if len(args) < 2 {
		return args
	}
	valueFlags, boolFlags := map[string]bool{}, map[string]bool{}
	for _, f := range globals {
		if f.Names()[0] == "help" || f.Names()[0] == "version" {
			continue
		}
		vf, ok := f.(cli.DocGenerationFlag)
		for _, n := range f.Names() {
			if ok && vf.TakesValue() {
				valueFlags[n] = true
			} else {
				boolFlags[n] = true
			}
		}
	}
	i := 1
	for i < len(args) {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		name, inline := splitFlag(a)
		if valueFlags[name] && !inline {
			i++
		}
		i++
	}
	if i >= len(args) || args[i] == "--" {
		return args
	}
	out := append([]string{}, args[:i]...)
	var rest []string
	for j := i + 1; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			rest = append(rest, args[j:]...)
			break
		}
		name, inline := splitFlag(a)
		if strings.HasPrefix(a, "-") && (valueFlags[name] || boolFlags[name]) {
			out = append(out, a)
			if valueFlags[name] && !inline && j+1 < len(args) {
				out = append(out, args[j+1])
				j++
			}
			continue
		}
		rest = append(rest, a)
	}
	out = append(out, args[i])
	return append(out, rest...)
}

func splitFlag(a string) (name string, inline bool) {
	name = strings.TrimLeft(a, "-")
	if k := strings.IndexByte(name, '='); k >= 0 {
		return name[:k], true
	}
	return name, false
}

// formatFromArgs finds --format before flags are parsed, falling back to
// PGMIG_FORMAT.
func formatFromArgs(args []string) string {
	f := os.Getenv("PGMIG_FORMAT")
	for i := 1; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		name, inline := splitFlag(args[i])
		if name != "format" || !strings.HasPrefix(args[i], "-") {
			continue
		}
		if inline {
			f = args[i][strings.IndexByte(args[i], '=')+1:]
		} else if i+1 < len(args) {
			f = args[i+1]
		}
	}
	return f
}

// repeatedURLs takes every --database-url/-d out of args when it is given
// more than once (several targets), leaving a single one to the flag.
func repeatedURLs(args []string) (rest, urls []string) {
	var at []int
	for i := 1; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		name, inline := splitFlag(args[i])
		if !strings.HasPrefix(args[i], "-") || name != "database-url" && name != "d" {
			continue
		}
		at = append(at, i)
		if inline {
			urls = append(urls, args[i][strings.IndexByte(args[i], '=')+1:])
		} else if i+1 < len(args) {
			urls = append(urls, args[i+1])
			i++
		}
	}
	if len(at) < 2 {
		return args, nil
	}
	skip := map[int]bool{}
	for _, i := range at {
		skip[i] = true
		if !strings.Contains(args[i], "=") {
			skip[i+1] = true
		}
	}
	for i, a := range args {
		if !skip[i] {
			rest = append(rest, a)
		}
	}
	return rest, urls
}

// urlFlagGiven reports whether args give --database-url or -d (before any
// `--`), so that an empty value can be told from an unset one.
func urlFlagGiven(args []string) bool {
	for _, a := range args[min(1, len(args)):] {
		if a == "--" {
			return false
		}
		if name, _ := splitFlag(a); strings.HasPrefix(a, "-") && (name == "database-url" || name == "d") {
			return true
		}
	}
	return false
}

// unsetEmptyEnv drops from f's environment variables those set to the
// empty string: an empty variable counts as unset (CONTRACT.md), so that
// an empty PGMIG_DATABASE_URL, what a missing CI secret looks like, falls
// through to DATABASE_URL instead of hiding it. urfave/cli takes any set
// variable, empty or not.
func unsetEmptyEnv(f cli.Flag) {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return
	}
	field := v.Elem().FieldByName("EnvVars")
	if !field.IsValid() || field.Type() != reflect.TypeOf([]string(nil)) {
		return
	}
	var keep []string
	for _, name := range field.Interface().([]string) {
		if os.Getenv(name) != "" {
			keep = append(keep, name)
		}
	}
	field.Set(reflect.ValueOf(keep))
}

// databaseURL is the connection string of --database-url and where it
// came from, for messages: "--database-url", "PGMIG_DATABASE_URL",
// "DATABASE_URL", or "" for the libpq defaults.
func (a *cliApp) databaseURL(c *cli.Context) (connString, from string) {
	s := c.String("database-url")
	switch {
	case a.urlFlag:
		return s, "--database-url"
	case os.Getenv("PGMIG_DATABASE_URL") != "":
		return s, "PGMIG_DATABASE_URL"
	case os.Getenv("DATABASE_URL") != "":
		return s, "DATABASE_URL"
	}
	return s, ""
}
