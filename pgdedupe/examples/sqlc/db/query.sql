-- name: RecordSubscriptionChange :exec
INSERT INTO subscription_changes (subscription_id, changed_at) VALUES ($1, $2);

-- name: CountSubscriptionChanges :one
SELECT count(*) FROM subscription_changes WHERE changed_at = $1;
