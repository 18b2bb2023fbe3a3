package fleet

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrShard is matched by the error of ParseShard for a malformed shard.
var ErrShard = errors.New("want a shard I/N with 0 <= I < N, such as 0/4")

// Shard is one runner's part of a fleet split Count ways: Index is 0-based,
// 0 <= Index < Count, so a Kubernetes indexed Job passes its
// JOB_COMPLETION_INDEX as it is. The zero Shard is the whole fleet.
//
// A target's shard is the first eight bytes of the SHA-256 of its identity
// (Target.Name, a zero byte, Target.Schema), read as a big-endian unsigned
// integer, modulo Count. It depends on the target alone, never on its
// place in the list: runners given the same targets in any order, or with
// targets added and removed, agree on who owns each of them, and the
// shards together hold every target exactly once. Target.Name is the
// connection string with its password redacted, so a changed password
// moves no target; the same database spelt two ways (a URL and
// keyword/value form) is two identities. The split is even only on
// average: with 200 targets and 4 shards, expect about 50 ± 7 each.
type Shard struct {
	Index, Count int
}

// ParseShard reads "I/N", such as "0/4" for the first of four shards.
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: %w", s, ErrShard)
	}
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || count < 1 || index < 0 || index >= count {
		return Shard{}, fmt.Errorf("shard %q: %w", s, ErrShard)
	}
	return Shard{Index: index, Count: count}, nil
}

func (s Shard) String() string {
	if s.Count == 0 {
		return "0/1"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Owns reports whether t belongs to shard s. Every target belongs to the
// zero Shard.
func (s Shard) Owns(t Target) bool {
	if s.Count <= 1 {
		return true
	}
	return ShardOf(t, s.Count) == s.Index
}

// Select returns the targets of ts that belong to s, in their order.
func (s Shard) Select(ts []Target) []Target {
	var out []Target
	for _, t := range ts {
		if s.Owns(t) {
			out = append(out, t)
		}
	}
	return out
}

// ShardOf returns the 0-based shard, of count, that t belongs to.
func ShardOf(t Target, count int) int {
	if count <= 1 {
		return 0
	}
	sum := sha256.Sum256([]byte(t.Name + "\x00" + t.Schema))
	return int(binary.BigEndian.Uint64(sum[:8]) % uint64(count))
}
