package runner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmig/pgmig/source"
)

// serverVersionNum is the server's server_version_num (150020 for
// 15.20), read from the server_version it reported at connection start,
// so that it costs no round trip; asked for when that does not parse.
func serverVersionNum(ctx context.Context, conn *pgx.Conn) (int, error) {
	if n, ok := parseServerVersion(conn.PgConn().ParameterStatus("server_version")); ok {
		return n, nil
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
		return 0, fmt.Errorf("read the server's version: %w", err)
	}
	return n, nil
}

// parseServerVersion turns a server_version ("15.20 (Debian 15.20-1)",
// "17beta1", "11.22", "9.6.24") into a server_version_num.
func parseServerVersion(v string) (int, bool) {
	v, _, _ = strings.Cut(v, " ")
	parts := strings.Split(v, ".")
	nums := make([]int, 0, 3)
	for _, p := range parts {
		d := p[:len(p)-len(strings.TrimLeft(p, "0123456789"))]
		n, err := strconv.Atoi(d)
		if err != nil {
			break
		}
		nums = append(nums, n)
		if d != p { // "17beta1": the rest is no number
			break
		}
	}
	switch {
	case len(nums) == 0:
		return 0, false
	case nums[0] >= 10: // major.minor
		minor := 0
		if len(nums) > 1 {
			minor = nums[1]
		}
		return nums[0]*10000 + minor, true
	case len(nums) >= 2: // 9.6.24: major is two parts
		patch := 0
		if len(nums) > 2 {
			patch = nums[2]
		}
		return nums[0]*10000 + nums[1]*100 + patch, true
	}
	return 0, false
}

// onServer returns ms with every section as it runs on a server whose
// server_version_num is num (source.Section.OnServer): a statement that
// only older servers refuse inside a transaction block, ALTER TYPE … ADD
// VALUE before PostgreSQL 12, sends its section outside a transaction
// where the file's own tool would, and is an error naming the file, line
// and fix where the section must be marked. Every file is checked, pending
// or not, as the source checks the statements no server runs in a
// transaction: the answer does not depend on the database's history.
// ms itself is left as it is; the sections that change are copied.
func onServer(ms []source.Migration, num int) ([]source.Migration, error) {
	out := make([]source.Migration, len(ms))
	var errs []error
	for i, m := range ms {
		up, err := m.Up.OnServer(num)
		if err != nil {
			errs = append(errs, err)
		}
		m.Up = up
		if m.Down != nil {
			down, err := m.Down.OnServer(num)
			if err != nil {
				errs = append(errs, err)
			}
			m.Down = &down
		}
		out[i] = m
	}
	return out, errors.Join(errs...)
}

// forServer is onServer for the server s works on.
func (s *session) forServer(ctx context.Context, ms []source.Migration) ([]source.Migration, error) {
	num, err := serverVersionNum(ctx, s.conn)
	if err != nil {
		return nil, err
	}
	return onServer(ms, num)
}
