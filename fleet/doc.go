// Package fleet runs one command against many targets — databases, or
// schemas of one database — with bounded parallelism, canaries first, and
// an optional stop at the first failure.
//
// Resolve makes the targets from a targets file, a list of connection
// strings, or a query naming schemas; Run runs a function against each:
//
//	targets, err := fleet.Resolve(ctx, fleet.Spec{File: "tenants.txt"})
//	if err != nil {
//		return err
//	}
//	results := fleet.Run(ctx, targets, fleet.Options{Parallel: 8, Canary: 1},
//		func(ctx context.Context, t fleet.Target) (runner.Report, error) {
//			return migrate(ctx, t)
//		})
//
// Several processes share one fleet with the databases as their only
// coordinator: Shard.Select keeps a runner's share of the targets, split by
// a hash of each target (stable whatever the list's order), and
// Options.SkipLocked lets runners given the same list drain it together,
// each putting aside a target whose lock another holds and taking the next.
//
// A failed target does not stop the others unless Options.FailFast is set;
// a failed canary always does. Target names are safe to print: connection
// strings are named with their password redacted.
package fleet
