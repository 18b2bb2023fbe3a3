package lint

import "regexp"

// Level is how serious a finding is: an error makes `pgmig lint` exit 3
// and `pgmig up --lint` refuse to apply anything; a warning is reported.
type Level string

const (
	Error   Level = "error"
	Warning Level = "warning"
)

// Rule is one check the linter makes.
type Rule struct {
	ID    string
	Level Level
	// Why is what goes wrong, in one line.
	Why string
	// Help is the safe alternative.
	Help string
}

// Rule IDs, as written in findings and in "-- pgmig:lint-ignore" lines.
const (
	RuleParseError         = "parse-error"
	RuleIndexNotConcurrent = "index-not-concurrent"
	RuleConcurrentlyInTx   = "concurrently-in-transaction"
	RuleConstraintNotValid = "constraint-not-valid"
	RuleUniqueConstraint   = "unique-constraint"
	RuleSetNotNull         = "set-not-null"
	RuleVolatileDefault    = "volatile-default"
	RuleColumnTypeChange   = "column-type-change"
	RuleNotNullNoDefault   = "not-null-without-default"
	RuleVacuumFull         = "vacuum-full"
	RuleCluster            = "cluster"
	RuleTransactionControl = "transaction-control"
	RuleEnumValueInTx      = "enum-value-in-transaction"
	RuleRenameColumn       = "rename-column"
	RuleRenameTable        = "rename-table"
	RuleDropColumn         = "drop-column"
	RuleDropTable          = "drop-table"
	RuleDropSchema         = "drop-schema"
	RuleDropDatabase       = "drop-database"
	RuleNoLockTimeout      = "no-lock-timeout"
	RuleIntKey             = "int-key"
	RuleTimestampWithoutTZ = "timestamp-without-time-zone"
	RuleChar               = "char-n"
	RuleIdentifierTooLong  = "identifier-too-long"
	RuleEmptyUp            = "empty-up"
	RuleUnknownIgnore      = "unknown-rule"
	RuleUnusedIgnore       = "unused-ignore"
)

// rules is the table of rules, in the order the documentation lists them.
// It is never modified.
var rules = []Rule{
	{RuleParseError, Error,
		"PostgreSQL's grammar refuses the statement",
		"fix the syntax; the server would refuse it the same way"},
	{RuleIndexNotConcurrent, Error,
		"CREATE INDEX, DROP INDEX and REINDEX without CONCURRENTLY block writes to an existing table (DROP INDEX also reads) until they finish",
		"CREATE INDEX CONCURRENTLY (or DROP INDEX / REINDEX … CONCURRENTLY) in a -- pgmig:no-transaction section"},
	{RuleConcurrentlyInTx, Error,
		"CONCURRENTLY cannot run inside a transaction block, and pgmig runs this section in one",
		"put the statement in a section that begins with -- pgmig:no-transaction, one concurrent statement per migration"},
	{RuleConstraintNotValid, Error,
		"adding a CHECK or FOREIGN KEY constraint scans the whole table while holding a lock that blocks writes",
		"ADD CONSTRAINT … NOT VALID, then VALIDATE CONSTRAINT in a later migration (validation takes a lock that lets writes through)"},
	{RuleUniqueConstraint, Error,
		"adding a UNIQUE, PRIMARY KEY or EXCLUDE constraint builds its index while holding ACCESS EXCLUSIVE, blocking reads and writes",
		"CREATE UNIQUE INDEX CONCURRENTLY in a -- pgmig:no-transaction section, then ADD CONSTRAINT … UNIQUE USING INDEX (or PRIMARY KEY USING INDEX)"},
	{RuleSetNotNull, Error,
		"SET NOT NULL scans the whole table under ACCESS EXCLUSIVE, blocking reads and writes",
		"ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later migration, then SET NOT NULL (it skips the scan) and drop the CHECK"},
	{RuleVolatileDefault, Error,
		"a column added with a volatile default (or serial, identity, generated stored) rewrites the whole table under ACCESS EXCLUSIVE",
		"add the column without a default (or with a constant one), set the default for new rows, then backfill existing rows in batches"},
	{RuleColumnTypeChange, Error,
		"changing a column's type rewrites the table (and its indexes) under ACCESS EXCLUSIVE, unless the types are binary-coercible",
		"add a column of the new type, write to both, backfill in batches, then switch readers and drop the old column; varchar(n) to text or to a longer varchar does not rewrite: silence those with -- pgmig:lint-ignore"},
	{RuleNotNullNoDefault, Error,
		"adding a NOT NULL column without a default fails as soon as the table has a row",
		"add the column with a DEFAULT, or add it nullable, backfill, then make it NOT NULL through a validated CHECK"},
	{RuleVacuumFull, Error,
		"VACUUM FULL rewrites the table under ACCESS EXCLUSIVE, blocking reads and writes, and cannot run in a transaction block",
		"plain VACUUM, or an online repack tool (pg_repack, pg_squeeze), outside migrations"},
	{RuleCluster, Error,
		"CLUSTER rewrites the table under ACCESS EXCLUSIVE, blocking reads and writes",
		"an online repack tool (pg_repack, pg_squeeze), outside migrations"},
	{RuleTransactionControl, Error,
		"BEGIN, COMMIT and ROLLBACK inside a migration break pgmig's own transaction: a COMMIT would keep half a migration",
		"remove them: pgmig runs each transactional section in one transaction with its history row; use savepoints to nest"},
	{RuleEnumValueInTx, Error,
		"a value added by ALTER TYPE … ADD VALUE cannot be used until its transaction commits, so the section fails",
		"add the enum value in its own migration (or a -- pgmig:no-transaction section) before the one that uses it"},
	{RuleRenameColumn, Warning,
		"renaming a column breaks every client still using the old name during the deploy",
		"add the new column, write to both, backfill, switch readers, then drop the old one; or rename behind a view"},
	{RuleRenameTable, Warning,
		"renaming a table breaks every client still using the old name during the deploy",
		"create a view with the old name for the transition, or deploy the clients first"},
	{RuleDropColumn, Warning,
		"dropping a column loses its data and breaks clients that still select it",
		"stop using the column in the code first, deploy, then drop it in a later migration"},
	{RuleDropTable, Warning,
		"dropping a table loses its data and breaks clients that still use it",
		"stop using the table in the code first, deploy, then drop it (or rename it aside) in a later migration"},
	{RuleDropSchema, Warning,
		"dropping a schema loses everything in it",
		"drop the objects one by one, each after the code stopped using it"},
	{RuleDropDatabase, Warning,
		"dropping a database loses everything in it",
		"do it by hand, not in a migration"},
	{RuleNoLockTimeout, Warning,
		"without lock_timeout a DDL statement waiting behind a long transaction makes every query on the table queue behind it",
		"begin the section with -- pgmig:lock-timeout 5s (or run with {runner.Options.DDLLockTimeout}); in a -- pgmig:no-transaction section, SET lock_timeout = '5s' first"},
	{RuleIntKey, Warning,
		"an integer or serial key runs out at 2^31 rows, and a later switch to bigint rewrites the table",
		"bigint GENERATED ALWAYS AS IDENTITY (or uuid)"},
	{RuleTimestampWithoutTZ, Warning,
		"timestamp without time zone stores wall-clock times whose meaning depends on the session's time zone",
		"timestamp with time zone (timestamptz)"},
	{RuleChar, Warning,
		"char(n) pads values with spaces and is no faster than text",
		"text, or varchar(n) / a CHECK on length() when the limit matters"},
	{RuleIdentifierTooLong, Warning,
		"PostgreSQL silently truncates identifiers to 63 bytes, so two long names can collide",
		"a name of at most 63 bytes"},
	{RuleEmptyUp, Warning,
		"the up section holds no statement: applying the migration changes nothing but the history",
		"write the change it was made for, or delete the file if it was created by mistake"},
	{RuleUnknownIgnore, Warning,
		"a -- pgmig:lint-ignore line names a rule that does not exist, so it silences nothing",
		"use one of the rule IDs listed in docs/safety.md, section Lint"},
	{RuleUnusedIgnore, Warning,
		"a -- pgmig:lint-ignore line silences nothing on the statement after it",
		"remove the line, or move it to the line before the statement it is for"},
}

// Rules returns every rule the linter checks, in a fixed order, with the
// options their Help names named as the Go API does.
func Rules() []Rule {
	rs := append([]Rule(nil), rules...)
	for i := range rs {
		rs[i].Help = named(rs[i].Help, func(o string) string { return o })
	}
	return rs
}

// OptionDDLLockTimeout is the option the no-lock-timeout rule advises, as
// a finding names it before Options.Name renders it.
const OptionDDLLockTimeout = "runner.Options.DDLLockTimeout"

// optionRE marks an option in a rule's Help:
// {runner.Options.DDLLockTimeout}.
var optionRE = regexp.MustCompile(`\{([A-Za-z]+(?:\.[A-Za-z]+)+)\}`)

// named is help with each option it marks rendered by name.
func named(help string, name func(option string) string) string {
	return optionRE.ReplaceAllStringFunc(help, func(m string) string { return name(m[1 : len(m)-1]) })
}

func lookupRule(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
