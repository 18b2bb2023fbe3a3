package fleet_test

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pgmig/pgmig/fleet"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		in   string
		want fleet.Shard
		ok   bool
	}{
		{"0/4", fleet.Shard{Index: 0, Count: 4}, true},
		{" 3/4 ", fleet.Shard{Index: 3, Count: 4}, true},
		{"0/1", fleet.Shard{Index: 0, Count: 1}, true},
		{"4/4", fleet.Shard{}, false}, // 0-based: a 1-based last shard is refused, not wrapped
		{"-1/4", fleet.Shard{}, false},
		{"1/0", fleet.Shard{}, false},
		{"1", fleet.Shard{}, false},
		{"a/b", fleet.Shard{}, false},
		{"", fleet.Shard{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := fleet.ParseShard(tc.in)
			if tc.ok {
				if err != nil || got != tc.want {
					t.Fatalf("ParseShard(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
				}
				if got.String() != fmt.Sprintf("%d/%d", tc.want.Index, tc.want.Count) {
					t.Errorf("String() = %q", got.String())
				}
				return
			}
			if !errors.Is(err, fleet.ErrShard) {
				t.Fatalf("ParseShard(%q) = %v, %v; want ErrShard", tc.in, got, err)
			}
		})
	}
}

// The shards of a split hold every target exactly once, whatever the
// order of the list, and a target's shard does not move when other
// targets come and go.
func TestShardsPartitionStably(t *testing.T) {
	ts := make([]fleet.Target, 200)
	for i := range ts {
		ts[i] = fleet.Target{Name: fmt.Sprintf("postgres://app:xxxxx@db%d.internal/tenant_%03d", i%3, i)}
	}
	const n = 4
	owner := map[string]int{}
	for i := 0; i < n; i++ {
		part := fleet.Shard{Index: i, Count: n}.Select(ts)
		if len(part) < 25 || len(part) > 75 {
			t.Errorf("shard %d/%d holds %d of 200 targets: the hash is badly skewed", i, n, len(part))
		}
		for _, tg := range part {
			if prev, dup := owner[tg.Name]; dup {
				t.Fatalf("%s is in shards %d and %d", tg.Name, prev, i)
			}
			owner[tg.Name] = i
		}
	}
	if len(owner) != len(ts) {
		t.Fatalf("the shards hold %d of %d targets", len(owner), len(ts))
	}

	// Reordered, and with half the targets gone: nobody moves.
	rng := rand.New(rand.NewPCG(1, 2))
	shuffled := append([]fleet.Target(nil), ts[:100]...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i := 0; i < n; i++ {
		for _, tg := range (fleet.Shard{Index: i, Count: n}).Select(shuffled) {
			if owner[tg.Name] != i {
				t.Errorf("%s moved from shard %d to %d when the list was reordered", tg.Name, owner[tg.Name], i)
			}
		}
	}

	// The schema is part of a target's identity.
	a := fleet.Target{Name: "tenant_1", Schema: "tenant_1"}
	b := fleet.Target{Name: "tenant_1"}
	same := 0
	for c := 2; c < 40; c++ {
		if fleet.ShardOf(a, c) == fleet.ShardOf(b, c) {
			same++
		}
	}
	if same == 38 {
		t.Error("a target with a schema always lands where the same name without one does")
	}
	if !(fleet.Shard{}).Owns(a) {
		t.Error("the zero Shard must own every target")
	}
}

// The split is pinned: runners built from different pgmig versions must
// agree, so a change here is a change of the documented algorithm.
func TestShardOfIsTheDocumentedHash(t *testing.T) {
	got := []int{
		fleet.ShardOf(fleet.Target{Name: "postgres://app:xxxxx@db1/tenant_a"}, 4),
		fleet.ShardOf(fleet.Target{Name: "tenant_b", Schema: "tenant_b"}, 4),
		fleet.ShardOf(fleet.Target{Name: "x"}, 1000),
	}
	want := documentedShards()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ShardOf = %v, want %v", got, want)
	}
}

// documentedShards recomputes, from the doc comment of fleet.Shard alone,
// the shards TestShardOfIsTheDocumentedHash checks.
func documentedShards() []int {
	of := func(identity string, count uint64) int {
		sum := sha256.Sum256([]byte(identity))
		return int(binary.BigEndian.Uint64(sum[:8]) % count)
	}
	return []int{
		of("postgres://app:xxxxx@db1/tenant_a\x00", 4),
		of("tenant_b\x00tenant_b", 4),
		of("x\x00", 1000),
	}
}
