-- The application's table. No unique constraint: a second write of an event would be a second row.
CREATE TABLE IF NOT EXISTS subscription_changes (
	subscription_id text NOT NULL,
	changed_at timestamptz NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now()
);
