// Package lint checks migrations for statements that are risky to run on a
// live database: locks that block reads or writes of a table with rows for
// as long as a scan or rewrite takes, statements that cannot work the way
// pgmig runs them, and choices that are hard to undo later.
//
// Every statement is parsed with PostgreSQL's own grammar (libpg_query,
// compiled to WebAssembly and run by wazero, so pgmig stays one static
// binary). The first parse of a process turns the module into machine
// code: a second or more of CPU and some 250 MB, or tens of milliseconds
// and about 30 MB when Options.CacheDir holds the code a previous process
// compiled. Programs that never lint never pay for either.
//
// The linter needs no database. It knows what the runner knows: each
// section's transaction mode and lock_timeout, and which tables the
// migrations create. A table "existed before" a file when an earlier file
// created it or no file did (it predates the migrations); a table created
// in the same file is new, and the rules about long locks leave it alone.
//
//	res := lint.Lint(migs, lint.Options{DDLLockTimeout: 2 * time.Second})
//	for _, f := range res.Findings {
//		fmt.Printf("%s:%d:%d: %s[%s]: %s\n", f.File, f.Line, f.Column, f.Level, f.Rule, f.Message)
//	}
//	if res.Errors() > 0 {
//		os.Exit(3)
//	}
//
// Gate is the judgement of a deploy that lints first: it fails, with a
// *GateError listing the error-level findings as values, when any finding
// of the migrations about to be applied is an error. Warnings never fail
// it.
//
//	judged, err := lint.Gate(res, lint.GateOptions{Versions: pending})
//
// Up sections are checked against every rule; down sections only for parse
// errors. A "-- pgmig:lint-ignore RULE[,RULE] reason" line before a
// statement silences those rules for it; Result.Ignored keeps the reason.
package lint
