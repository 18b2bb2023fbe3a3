package runner

import (
	"testing"
	"time"
)

// TestProgressGateTicksRegularly drives the gate with an injected clock:
// the elapsed times that samples report, late by a jitter, as on a busy
// machine.
func TestProgressGateTicksRegularly(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name            string
		every, sampling time.Duration
		samples         []time.Duration
		want            []time.Duration // the samples that emit
	}{
		{
			name: "late samples every 5s", every: 5 * s, sampling: 5 * s,
			samples: []time.Duration{5020 * time.Millisecond, 10010 * time.Millisecond, 15030 * time.Millisecond, 20001 * time.Millisecond},
			want:    []time.Duration{5020 * time.Millisecond, 10010 * time.Millisecond, 15030 * time.Millisecond, 20001 * time.Millisecond},
		},
		{
			name: "early samples every 5s", every: 5 * s, sampling: 5 * s,
			samples: []time.Duration{4990 * time.Millisecond, 9995 * time.Millisecond, 14999 * time.Millisecond},
			want:    []time.Duration{4990 * time.Millisecond, 9995 * time.Millisecond, 14999 * time.Millisecond},
		},
		{
			name: "sampled every second for a lock timeout", every: 5 * s, sampling: s,
			samples: []time.Duration{1010 * time.Millisecond, 2010 * time.Millisecond, 3010 * time.Millisecond, 4010 * time.Millisecond, 5010 * time.Millisecond, 6010 * time.Millisecond, 7010 * time.Millisecond, 8010 * time.Millisecond, 9010 * time.Millisecond, 10010 * time.Millisecond, 11010 * time.Millisecond},
			want:    []time.Duration{5010 * time.Millisecond, 10010 * time.Millisecond},
		},
		{
			name: "a stalled sampler catches up once", every: 5 * s, sampling: 5 * s,
			samples: []time.Duration{5 * s, 17 * s, 20 * s},
			want:    []time.Duration{5 * s, 17 * s, 20 * s},
		},
		{name: "no interval, no events", every: 0, sampling: s, samples: []time.Duration{s, 2 * s}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := progressGate{every: tc.every, sampling: tc.sampling}
			var got []time.Duration
			for _, e := range tc.samples {
				if g.due(e) {
					got = append(got, e)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("emitted at %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("emitted at %v, want %v", got, tc.want)
				}
			}
		})
	}
}
