// Package runner is pgmig's engine: it merges a source's migrations with
// the tracking table into a plan, validates it, and applies or rolls back
// steps, each in a transaction together with its history row.
//
// It prints nothing and reads no flags or environment: commands return
// data (Status, Report, typed errors) and report progress through
// Options.OnEvent and Options.Logger, so a Go service can migrate at
// start-up silently and the CLI can render the same results.
//
//	r, err := runner.New(pool, source.Builtin(), runner.Options{
//		LockTimeout: time.Minute, // zero means 5m
//		Logger:      logger,      // nil discards
//	})
//	if err != nil {
//		return err
//	}
//	rep, err := r.Up(ctx, runner.UpOptions{})
//
// Every command that writes holds a session-level advisory lock keyed by the
// tracking table's qualified name, so any number of processes may run Up at
// once: each migration is applied exactly once.
package runner
