// Package check compares schemas instead of applying them: Verify checks
// that every down section undoes its up, and Drift finds changes made to a
// database outside its migrations. Both build migrations on a scratch
// database (Scratch) that they create on the server of the pool they are
// given and drop however they end: an error, a cancelled context (the drop
// runs on a context of its own and uses DROP DATABASE … WITH (FORCE)).
// Creating it needs the CREATEDB privilege; without it the error is a
// *PrivilegeError, and VerifyIn verifies in an empty database the caller
// provides instead.
//
// Schemas are compared as the schema package snapshots them; the tracking
// table is left out.
//
//	rep, err := check.Verify(ctx, pool, source.FromFS(files), check.VerifyOptions{
//		Runner: runner.Options{Table: "ops.history"},
//	})
//	var diff *check.DifferenceError
//	if errors.As(err, &diff) {
//		fmt.Printf("%s differs after %s %d\n%s", strings.Join(diff.Objects, ", "), diff.Step, diff.Version, diff.Diff)
//	}
//
//	drift, err := check.Drift(ctx, pool, source.FromFS(files), check.DriftOptions{})
//	if err == nil && drift.Drifted() {
//		fmt.Print(drift.Diff)
//	}
//
// Nothing here prints: the results are reports, and failures typed errors
// (*DifferenceError, the runner's *runner.MigrationError and
// *runner.MissingDownError, *NotEmptyError, *PrivilegeError). IsVerdict
// tells a verdict on the migrations from a failure to check them.
package check
