package migrations

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
)

func init() {
	goose.AddMigrationContext(upBackfillEmails, downBackfillEmails)
}

func upBackfillEmails(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE accounts SET email = lower(email)`)
	return err
}

func downBackfillEmails(ctx context.Context, tx *sql.Tx) error { return nil }
