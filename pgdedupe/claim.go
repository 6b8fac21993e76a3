package pgdedupe

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnercenter-go/pcwebhook"
)

// claim is a delivery in progress in this process: its open transaction on a pool connection.
// Exactly one of Done, Release and the lease timer takes it out of Store.claims, and only that
// one ends it.
type claim struct {
	key     string
	expires time.Time
	conn    *pgxpool.Conn
	pgConn  *pgconn.PgConn // conn's, read once: the lease timer must not touch conn while a callback uses it
	tx      pgx.Tx

	mu      sync.Mutex
	timer   *time.Timer
	cancels []context.CancelFunc // of the callbacks' contexts
	ended   bool
}

// hold keeps cl open under token until Done, Release or the lease ends it.
func (s *Store) hold(token string, cl *claim) {
	s.claims.Store(token, cl)
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.timer = time.AfterFunc(time.Until(cl.expires), func() { s.expire(token, cl) })
}

// open returns the open claim c names, if this Store holds it.
func (s *Store) open(c pcwebhook.Claim) (*claim, bool) {
	v, ok := s.claims.Load(c.Token)
	if !ok {
		return nil, false
	}
	cl := v.(*claim)
	return cl, cl.key == c.Key
}

// take removes the open claim c names from the Store, so that the caller alone ends it, and
// stops its timer and the callbacks' contexts.
func (s *Store) take(c pcwebhook.Claim) (*claim, bool) {
	cl, ok := s.open(c)
	if !ok || !s.claims.CompareAndDelete(c.Token, cl) {
		return nil, false
	}
	cl.end()
	return cl, true
}

// end stops the timer and cancels the callbacks' contexts.
func (cl *claim) end() {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.ended = true
	if cl.timer != nil {
		cl.timer.Stop()
	}
	for _, cancel := range cl.cancels {
		cancel()
	}
	cl.cancels = nil
}

// addCancel registers the cancel func of a callbacks' context, to be called when the claim ends.
func (cl *claim) addCancel(cancel context.CancelFunc) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.ended {
		cancel()
		return
	}
	cl.cancels = append(cl.cancels, cancel)
}

// rollback ends the transaction; a rollback that fails leaves the connection closed (pgx closes
// it), and the server rolls back when it sees it closed.
func (cl *claim) rollback(ctx context.Context) {
	if cl.pgConn.IsClosed() || cl.pgConn.TxStatus() == 'I' {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, rollbackTimeout)
	defer cancel()
	_ = cl.tx.Rollback(rctx)
}

// expire ends a claim whose lease ran out, unless Done or Release took it first. A callback may
// still be using the connection, so the connection is never used here. The query in flight, if
// any, is cancelled (a cancel request on a connection of its own: a busy session notices a closed
// socket only when its query ends); then the socket is closed (an idle server session sees it at
// once and ends, which rolls the transaction back and frees the lock) and the connection is taken
// out of the pool, so that nobody else is given it. The cancel goes first because PgBouncer
// forwards it only while the client it names is connected; it is sent again after the close for a
// query the callback started in between (PostgreSQL itself takes a cancel at any time).
func (s *Store) expire(token string, cl *claim) {
	if !s.claims.CompareAndDelete(token, cl) {
		return
	}
	cl.end()
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	_ = cl.pgConn.CancelRequest(ctx)
	_ = cl.pgConn.Conn().Close()
	cl.conn.Hijack()
	_ = cl.pgConn.CancelRequest(ctx)
}

// doneEnded is Done of a claim this Store does not hold open: committed already (nil), or its
// transaction ended without the record (the lease ran out, it was released, its Begin was in
// another process): nothing of it was committed.
func (s *Store) doneEnded(ctx context.Context, c pcwebhook.Claim) error {
	if _, ok := s.verifyToken(c.Key, c.Token); !ok {
		return fmt.Errorf("pgdedupe: done %s: not a claim of this store: %w", shortKey(c.Key), pcwebhook.ErrClaimLost)
	}
	rec, err := s.lookup(ctx, c.Key)
	switch {
	case err != nil:
		return fmt.Errorf("pgdedupe: done %s: the claim's transaction had ended (%w), and its record could not be read: %w", shortKey(c.Key), pcwebhook.ErrNotCommitted, err)
	case rec.token == c.Token:
		return nil // this claim's Done committed already
	case rec.token != "":
		return fmt.Errorf("pgdedupe: done %s: the claim's transaction had ended and another delivery was recorded: %w: %w", shortKey(c.Key), pcwebhook.ErrNotCommitted, pcwebhook.ErrClaimLost)
	case rec.locked:
		return fmt.Errorf("pgdedupe: done %s: the claim's transaction had ended and another delivery holds the key: %w: %w", shortKey(c.Key), pcwebhook.ErrNotCommitted, pcwebhook.ErrClaimLost)
	}
	return fmt.Errorf("pgdedupe: done %s: the claim's transaction had ended (lease ran out, or released) without the record: %w", shortKey(c.Key), pcwebhook.ErrNotCommitted)
}

// releaseEnded is Release of a claim this Store does not hold open: nil while the key is free and
// the claim's lease runs (its transaction is gone already), else ErrClaimLost.
func (s *Store) releaseEnded(ctx context.Context, c pcwebhook.Claim) error {
	expires, ok := s.verifyToken(c.Key, c.Token)
	if !ok {
		return fmt.Errorf("pgdedupe: release %s: not a claim of this store: %w", shortKey(c.Key), pcwebhook.ErrClaimLost)
	}
	rec, err := s.lookup(ctx, c.Key)
	switch {
	case err != nil:
		return fmt.Errorf("pgdedupe: release %s: %w", shortKey(c.Key), err)
	case rec.token != "":
		return fmt.Errorf("pgdedupe: release %s: the delivery is recorded as handled: %w", shortKey(c.Key), pcwebhook.ErrClaimLost)
	case rec.locked:
		return fmt.Errorf("pgdedupe: release %s: another delivery holds the key: %w", shortKey(c.Key), pcwebhook.ErrClaimLost)
	case !time.Now().Before(expires):
		return fmt.Errorf("pgdedupe: release %s: the lease ran out: %w", shortKey(c.Key), pcwebhook.ErrClaimLost)
	}
	return nil
}

// record is what lookup found of a key.
type record struct {
	token  string // of its unexpired record, or ""
	locked bool   // a transaction holds the key's lock
}

// lookup reads the key's record and lock in one round trip, outside any transaction.
func (s *Store) lookup(ctx context.Context, key string) (record, error) {
	conn, err := s.acquireConn(ctx)
	if err != nil {
		return record{}, err
	}
	defer conn.Release()
	classid, objid := lockHalves(lockID(s.table.sanitized, key))
	var token *string
	var rec record
	if err := conn.QueryRow(ctx, s.table.lookupSQL(), pgx.QueryExecModeExec, key, classid, objid).Scan(&token, &rec.locked); err != nil {
		return record{}, err
	}
	if token != nil {
		rec.token = *token
	}
	return rec, nil
}

// Tokens are 64 hex digits: 8 random bytes, the claim's expiry (Unix milliseconds) and 16 bytes
// of HMAC-SHA256 over both and the key, with the Store's secret. A Store thus recognizes its own
// claims, and their expiry, after it forgot them.
const tokenBytes = 32

// newToken returns a fresh token for a claim of key that expires at expires.
func (s *Store) newToken(key string, expires time.Time) string {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:8])
	binary.BigEndian.PutUint64(b[8:16], uint64(expires.UnixMilli()))
	copy(b[16:], s.tokenMAC(key, b[:16]))
	return hex.EncodeToString(b[:])
}

// verifyToken reports whether token was made by this Store for key, and the claim's expiry.
func (s *Store) verifyToken(key, token string) (time.Time, bool) {
	b, err := hex.DecodeString(token)
	if err != nil || len(b) != tokenBytes || !hmac.Equal(b[16:], s.tokenMAC(key, b[:16])) {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b[8:16]))), true
}

func (s *Store) tokenMAC(key string, head []byte) []byte {
	m := hmac.New(sha256.New, s.secret[:])
	m.Write(head)
	m.Write([]byte(key))
	return m.Sum(nil)[:16]
}
