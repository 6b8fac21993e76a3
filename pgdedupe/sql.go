package pgdedupe

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/partnercenter-go/pcwebhook"
)

// The store's SQL. Every statement names the table through table.sanitized; keys and tokens are
// given as parameters where pgx allows it, and as quoted literals in the statements that begin
// and commit the claim's transaction (pgx sends those as one simple query each, which takes no
// parameters). No statement is prepared, and none leaves state on the session, so the store
// works through PgBouncer's transaction pooling.

// table is a table name as given to WithTable, split on '.' and quoted.
type table struct {
	name      string         // as given
	ident     pgx.Identifier // its parts
	sanitized string         // quoted, for SQL
}

func newTable(name string) table {
	if name == "" {
		name = DefaultTable
	}
	ident := pgx.Identifier(strings.Split(name, "."))
	return table{name: name, ident: ident, sanitized: ident.Sanitize()}
}

// Schema returns the DDL of the store's table (default DefaultTable when table is ""; a
// schema-qualified name, "app.pcwebhook_deliveries", is split on '.' and each part quoted): what
// Migrate runs, for migration tools. The schema must exist.
//
// Each row is one handled delivery: its key, the token of the claim that recorded it, when, and
// until when it is remembered. The index on expires_at serves Purge.
func Schema(table string) string {
	t := newTable(table)
	index := pgx.Identifier{t.ident[len(t.ident)-1] + "_expires_at_idx"}.Sanitize()
	return "CREATE TABLE IF NOT EXISTS " + t.sanitized + " (\n" +
		"\tdelivery_key text PRIMARY KEY,\n" +
		"\ttoken text NOT NULL,\n" +
		"\thandled_at timestamptz NOT NULL DEFAULT clock_timestamp(),\n" +
		"\texpires_at timestamptz NOT NULL\n" +
		");\n" +
		"CREATE INDEX IF NOT EXISTS " + index + " ON " + t.sanitized + " (expires_at);\n"
}

// The begin query is run by pgx.Conn.BeginTx, which reads no rows, so it reports a key taken or
// done as an error: the lock's wait timing out (lock_not_available) for a key in progress, and a
// cast of markerDone to int, which fails only when the marker is selected, for a key done.
const markerDone = "pgdedupe: delivery done"

// lockWait is how long Begin waits for the lock of a key in progress before it answers
// DeliveryInProgress: a delivery that is just finishing is then answered as a duplicate (200)
// instead of 503, and a claim whose lease ran out is taken over although its server session
// takes a moment to end after the store closed its connection.
const lockWait = 100 * time.Millisecond

// isDoneSQL asks whether the key ($1) has an unexpired record, outside any transaction: a
// duplicate is answered in this one round trip.
func (t table) isDoneSQL() string {
	return "SELECT EXISTS (SELECT 1 FROM " + t.sanitized + " WHERE delivery_key = $1 AND expires_at > clock_timestamp())"
}

// beginSQL opens the claim's transaction in one round trip: READ COMMITTED whatever the
// database's default; the server ends it when it stays idle past the lease (a client that
// froze); the key's advisory lock, waited for at most lockWait (lock_timeout, restored to the
// session's value for the callbacks); then, under the lock, a record committed meanwhile (or the
// done marker). The last statement runs after the lock is taken, so its snapshot sees every
// record committed before.
func (t table) beginSQL(key string, lock int64, leaseMillis int64) string {
	return "BEGIN ISOLATION LEVEL READ COMMITTED;\n" +
		"SELECT set_config('idle_in_transaction_session_timeout', '" + strconv.FormatInt(leaseMillis, 10) + "', true);\n" +
		"SELECT set_config('pgdedupe.lock_timeout', current_setting('lock_timeout'), true);\n" +
		"SELECT set_config('lock_timeout', '" + strconv.FormatInt(lockWait.Milliseconds(), 10) + "ms', true);\n" +
		"SELECT pg_advisory_xact_lock(" + strconv.FormatInt(lock, 10) + ");\n" +
		"SELECT set_config('lock_timeout', current_setting('pgdedupe.lock_timeout'), true);\n" +
		"SELECT (CASE WHEN EXISTS (SELECT 1 FROM " + t.sanitized + " WHERE delivery_key = " + quoteLiteral(key) +
		" AND expires_at > clock_timestamp()) THEN '" + markerDone + "' END)::int"
}

// commitSQL records the delivery and commits the callbacks' writes with it, in one round trip.
// An expired record of the key is replaced; an unexpired one (another delivery committed first)
// fails the INSERT with a unique violation, and the COMMIT after it is never run.
func (t table) commitSQL(key, token string, retentionMillis int64) string {
	k := quoteLiteral(key)
	return "DELETE FROM " + t.sanitized + " WHERE delivery_key = " + k + " AND expires_at <= clock_timestamp();\n" +
		"INSERT INTO " + t.sanitized + " (delivery_key, token, expires_at) VALUES (" + k + ", " + quoteLiteral(token) +
		", clock_timestamp() + interval '" + strconv.FormatInt(retentionMillis, 10) + " milliseconds');\n" +
		"COMMIT"
}

// lookupSQL reads what became of an ended claim of the key ($1): the token of its unexpired
// record (NULL when none), and whether a transaction holds its advisory lock ($2 and $3, the
// lock's high and low 32 bits, as pg_locks shows a bigint advisory lock) right now.
func (t table) lookupSQL() string {
	return "SELECT (SELECT token FROM " + t.sanitized + " WHERE delivery_key = $1 AND expires_at > clock_timestamp()), " +
		"EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1" +
		" AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())" +
		" AND classid = $2::bigint::oid AND objid = $3::bigint::oid)"
}

// purgeSQL deletes every expired record.
func (t table) purgeSQL() string {
	return "DELETE FROM " + t.sanitized + " WHERE expires_at <= clock_timestamp()"
}

// migrateLock is the advisory lock Migrate holds while it creates the table, so that replicas
// migrating at once wait for each other (CREATE TABLE IF NOT EXISTS is not safe concurrently).
var migrateLock = lockID("pgdedupe migrate", "")

// lockID is the advisory lock of key in the table: 64 bits of SHA-256 of both.
func lockID(table, key string) int64 {
	h := sha256.New()
	h.Write([]byte(table))
	h.Write([]byte{0})
	h.Write([]byte(key))
	var sum [sha256.Size]byte
	return int64(binary.BigEndian.Uint64(h.Sum(sum[:0])))
}

// lockHalves splits a bigint advisory lock into pg_locks' classid (high 32 bits) and objid (low).
func lockHalves(lock int64) (classid, objid int64) {
	u := uint64(lock)
	return int64(u >> 32), int64(u & 0xffffffff)
}

// quoteLiteral quotes s as an escape string constant (E'...'), right whatever
// standard_conforming_strings says. s must not hold a NUL byte (checked by the callers).
func quoteLiteral(s string) string {
	return "E'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

// beginAnswer reads the state a failed begin query reports: DeliveryInProgress when the lock's
// wait timed out, DeliveryDone for the done marker; ok is false for any other error.
func beginAnswer(err error) (_ pcwebhook.DeliveryState, ok bool) {
	var pgErr *pgconn.PgError
	switch {
	case !errors.As(err, &pgErr):
	case pgErr.Code == "55P03": // lock_not_available: only the advisory lock waits with our lock_timeout
		return pcwebhook.DeliveryInProgress, true
	case pgErr.Code == "22P02" && strings.Contains(pgErr.Message, markerDone): // invalid_text_representation
		return pcwebhook.DeliveryDone, true
	}
	return 0, false
}

// isRecordConflict reports whether err is the unique violation of t's primary key: another
// delivery of the key committed its record first.
func (t table) isRecordConflict(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" { // unique_violation
		return false
	}
	if pgErr.TableName != t.ident[len(t.ident)-1] {
		return false // a deferred unique constraint of the callbacks' own tables, checked at COMMIT
	}
	return len(t.ident) < 2 || pgErr.SchemaName == t.ident[len(t.ident)-2]
}
