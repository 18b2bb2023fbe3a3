package runner

import "testing"

func TestQuotedNameOffset(t *testing.T) {
	tests := []struct {
		name, stmt, message string
		want                int
	}{
		{"column in an index", "CREATE INDEX i ON orders (user_idd);", `column "user_idd" does not exist`, 26},
		{"quoted in the statement", `CREATE INDEX i ON t ("Mixed");`, `column "Mixed" does not exist`, 22},
		{"case differs", "CREATE INDEX i ON t (UserId);", `column "userid" does not exist`, 21},
		{"every name ambiguous: no guess", "ALTER TABLE t ADD COLUMN t int;", `column "t" of relation "t" already exists`, -1},
		{"named twice: no guess", "CREATE INDEX i ON t (x, (x + 1));", `column "x" does not exist`, -1},
		{"part of a longer word: no match", "CREATE INDEX i ON t (xy);", `column "x" does not exist`, -1},
		{"not in the statement", "INSERT INTO t VALUES (1);", `duplicate key value violates unique constraint "t_pkey"`, -1},
		{"after multi-byte text", "SELECT 'é' AS a, nope FROM t;", `column "nope" does not exist`, 18},
		{"no quoted name", "SELECT 1/0;", "division by zero", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := quotedNameOffset(tc.stmt, tc.message); got != tc.want {
				t.Fatalf("quotedNameOffset = %d, want %d", got, tc.want)
			}
		})
	}
}
