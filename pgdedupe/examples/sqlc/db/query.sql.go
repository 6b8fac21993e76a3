// The shape of what sqlc generates from query.sql (see db.go).

package db

import (
	"context"
	"time"
)

const countSubscriptionChanges = `-- name: CountSubscriptionChanges :one
SELECT count(*) FROM subscription_changes WHERE changed_at = $1
`

// CountSubscriptionChanges counts the rows of the change at changedAt.
func (q *Queries) CountSubscriptionChanges(ctx context.Context, changedAt time.Time) (int64, error) {
	row := q.db.QueryRow(ctx, countSubscriptionChanges, changedAt)
	var count int64
	err := row.Scan(&count)
	return count, err
}

const recordSubscriptionChange = `-- name: RecordSubscriptionChange :exec
INSERT INTO subscription_changes (subscription_id, changed_at) VALUES ($1, $2)
`

// RecordSubscriptionChangeParams are the parameters of RecordSubscriptionChange.
type RecordSubscriptionChangeParams struct {
	SubscriptionID string
	ChangedAt      time.Time
}

// RecordSubscriptionChange writes one row.
func (q *Queries) RecordSubscriptionChange(ctx context.Context, arg RecordSubscriptionChangeParams) error {
	_, err := q.db.Exec(ctx, recordSubscriptionChange, arg.SubscriptionID, arg.ChangedAt)
	return err
}
