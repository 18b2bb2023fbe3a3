package runner

import "time"

// progressGate decides which samples of a running step become progress
// events: one every `every`, whatever the jitter of the samples' clock.
//
// Samples come every `sampling` (which may be shorter, when a lock timeout
// wants blockers seen sooner) and their elapsed times run a little late.
// Measuring from the last event's elapsed time would drop a tick: with
// every=5s, a sample at 5.02s emits and one at 10.01s is 4.99s later, so
// the next event came at 15s. Events are due at the multiples of every
// instead, and a sample within half a sampling period of one counts for it.
type progressGate struct {
	every    time.Duration // zero: no events
	sampling time.Duration
	next     time.Duration // the next multiple of every that is due
}

// due reports whether the sample taken at elapsed is the next event.
func (g *progressGate) due(elapsed time.Duration) bool {
	if g.every <= 0 {
		return false
	}
	if g.next == 0 {
		g.next = g.every
	}
	if elapsed+g.sampling/2 < g.next {
		return false
	}
	for g.next <= elapsed+g.sampling/2 {
		g.next += g.every
	}
	return true
}
