// Package redisdedupe is a pcwebhook.DedupeStore on Redis, shared by several replicas of a
// webhook receiver, so that a Partner Center retry that lands on another replica does not run
// the callbacks a second time.
//
// The guarantee is the one pcwebhook.DedupeStore states, across every replica: a delivery's
// callbacks succeed at most once while Redis remembers it, except when they outlive the lease
// (another replica then takes the delivery over) or a process dies between their success and
// Done. It is about callback runs, not their effects: what a callback wrote before such a
// failure stays, so make the effects idempotent, or use a transactional store that commits them
// with the delivery's record.
//
// Each delivery is one Redis string key, the prefix followed by the hex SHA-256 of the body. Its
// value is the owner's token while a replica handles the delivery (it expires with the lease),
// then "done:" followed by the token of the claim that finished it (it expires with the
// retention). Begin is one atomic round trip (a Lua script that reads the key and claims it when
// it is free); Done and Release are owner-checked compare-and-set scripts. Every script touches
// one key, so the store works with a single server, Sentinel and Cluster clients alike (keys hash
// into slots freely). Scripts are sent with EVALSHA, and once with EVAL when the server does not
// have them yet.
//
// go-redis retries a command whose reply was lost (a dropped connection, a read timeout), and
// the retry finds what the first run did. Each script takes that into account: a retried Begin
// owns its own claim, a retried Done finds the key done by its own token, and a retried Release
// finds the key free while the claim's lease runs; all three succeed instead of reporting the
// delivery in progress or the claim lost.
//
// Records of handled deliveries written by earlier versions of this package hold "done" alone:
// they still read as handled (a Done or Release of any claim on them is refused with
// pcwebhook.ErrClaimLost). During a rolling upgrade, replicas that still run an earlier version
// read a "done:<token>" record as a delivery in progress and answer its duplicates with 503 until
// they are upgraded; Partner Center retries, and the callbacks of a handled delivery do not run
// again.
//
// Failures: when Redis cannot answer, Begin returns the error and the Handler answers 503 with
// Retry-After without running callbacks; Partner Center retries. When Done fails after the
// callbacks succeeded the Handler still answers 200 and logs a WARN: a retry may run them again.
// Bound how long a slow Redis can hold a request with the client's options (ReadTimeout,
// WriteTimeout, DialTimeout, MaxRetries, or ContextTimeoutEnabled with the request's context).
//
// Logging: the Store logs nothing itself; its errors reach the Handler, which logs each failed
// delivery once (Redis down: one ERROR line per delivery, 503, with the Redis error in it).
// go-redis also prints lines of its own, by default unstructured "redis: ..." lines on stderr:
// when Redis refuses connections, one for every failed dial, that is for every retry. Its logger
// is one for the whole process (redis.SetLogger). When this package is initialized, before any
// code of the program runs, it sets that logger to one that writes to slog (slog.Default(), or
// the logger of WithLogger): failed dials at DEBUG (the error they describe is the command's,
// and whoever ran the command reports it), every other line at WARN. A program that calls
// redis.SetLogger itself replaces this, wherever it calls it.
//
// Without persistence (AOF, appendonly yes) a Redis restart forgets which deliveries were
// handled, and a retry in flight may run its callbacks again.
package redisdedupe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/partnercenter-go/pcwebhook"
)

// Defaults of a Store made by New.
const (
	// DefaultKeyPrefix is put before every key the store writes.
	DefaultKeyPrefix = "pcwebhook:dedupe:"
	// DefaultRetention is how long a handled delivery is remembered: longer than Partner
	// Center's ten attempts take. The same as pcwebhook.DefaultDedupeRetention.
	DefaultRetention = pcwebhook.DefaultDedupeRetention
	// DefaultLease is how long an unfinished claim blocks other deliveries of the same body.
	// The same as pcwebhook.DefaultDedupeLease.
	DefaultLease = pcwebhook.DefaultDedupeLease
)

// ErrNoClient is returned by a Store that has no Redis client (the zero Store, or New(nil)).
var ErrNoClient = errors.New("redisdedupe: no Redis client (use New with a client)")

// doneMark starts the value of a handled delivery's key: doneMark, ":" and the token of the claim
// that finished it, or doneMark alone in the records of earlier versions. Tokens are 32 lowercase
// hex digits and "o" is none, so no token starts with it.
const doneMark = "done"

// Store is a pcwebhook.DedupeStore on Redis, safe for concurrent use by any number of Handlers
// in any number of processes that share the Redis and the key prefix. Create it with New.
type Store struct {
	rdb       redis.UniversalClient
	prefix    string
	retention time.Duration
	lease     time.Duration
}

var _ pcwebhook.DedupeStore = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithKeyPrefix sets the prefix of every key the store writes (default DefaultKeyPrefix), for
// example to keep two receivers that share a Redis apart. In a Cluster, a hash tag in the
// prefix ("{pcwebhook}:") would put every key in one slot: leave it out.
func WithKeyPrefix(prefix string) Option { return func(s *Store) { s.prefix = prefix } }

// WithRetention sets how long a handled delivery is remembered (default DefaultRetention, 7
// days). A retry of a delivery that is forgotten runs the callbacks again, so keep it longer
// than Partner Center retries (ten attempts over a few days). Values below 1 ms keep the default.
func WithRetention(d time.Duration) Option { return func(s *Store) { s.retention = d } }

// WithLease sets how long an unfinished claim blocks other deliveries of the same body (default
// DefaultLease, 10 minutes): after it another replica takes a retry over, so a replica that died
// mid-callback does not block the event for good. Keep it longer than your callbacks take: a
// callback that outlives it may run twice (the late owner's Done or Release is refused with
// pcwebhook.ErrClaimLost, and the Handler logs it at WARN). Values below 1 ms keep the default.
func WithLease(d time.Duration) Option { return func(s *Store) { s.lease = d } }

// WithLogger sets the logger of go-redis's own lines (default slog.Default(), looked up at each
// line). go-redis has one logger for the whole process, so this is process-wide: the last
// WithLogger given to New wins, for the lines of every go-redis client of the process. A nil l
// goes back to slog.Default(). See the package documentation, Logging.
func WithLogger(l *slog.Logger) Option { return func(*Store) { redisLogger.Store(l) } }

// New returns a Store on rdb: a *redis.Client, *redis.ClusterClient, *redis.Ring or the Sentinel
// failover client. Every replica of a receiver needs a Store on the same Redis with the same
// prefix.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: DefaultKeyPrefix}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	if s.retention < time.Millisecond {
		s.retention = DefaultRetention
	}
	if s.lease < time.Millisecond {
		s.lease = DefaultLease
	}
	return s
}

// beginScript claims KEYS[1] for the token ARGV[1] for ARGV[2] milliseconds when the key is free,
// or already held by ARGV[1] itself: go-redis retries a command whose reply was lost (a dropped
// connection, a read timeout) with the same token, and that retry must not find its own claim
// "in progress" (nobody would own the delivery until the lease ran out). It answers 0 when the
// caller now owns the key, 1 when another owner holds it, 2 when done (in either format).
var beginScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, ` + strconv.Itoa(len(doneMark)) + `) == '` + doneMark + `' then return 2 end
if v and v ~= ARGV[1] then return 1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0
`)

// doneScript marks KEYS[1] done by the token ARGV[1] for ARGV[2] milliseconds when that token
// holds it, or when it is free (the lease ran out and nobody took over: the callbacks did
// succeed). It answers 1 when it did, and also, changing nothing, when the key is done by ARGV[1]
// already (a retried Done); 0 when another owner holds the key or another claim finished it.
var doneScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local done = '` + doneMark + `:' .. ARGV[1]
if v == ARGV[1] or not v then
	redis.call('SET', KEYS[1], done, 'PX', ARGV[2])
	return 1
end
if v == done then return 1 end
return 0
`)

// releaseScript deletes KEYS[1] when the token ARGV[1] holds it. It answers 1 when it did, 2
// when the key is free (Release decides whether that is a repeat), 0 when another owner holds it
// or it is done.
var releaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
	redis.call('DEL', KEYS[1])
	return 1
end
if not v then return 2 end
return 0
`)

// The answers of releaseScript, besides 0 (lost).
const (
	releaseFreed = 1
	releaseFree  = 2
)

// Begin claims key when it is new, in one round trip, and reports what it was. An error means
// Redis did not answer: the Handler then answers 503 and runs no callback.
func (s *Store) Begin(ctx context.Context, key string) (pcwebhook.Claim, error) {
	if s == nil || s.rdb == nil {
		return pcwebhook.Claim{}, ErrNoClient
	}
	token, err := newToken()
	if err != nil {
		return pcwebhook.Claim{}, fmt.Errorf("redisdedupe: begin: %w", err)
	}
	start := time.Now()
	st, err := beginScript.Run(ctx, s.rdb, []string{s.prefix + key}, token, s.lease.Milliseconds()).Int64()
	if err != nil {
		return pcwebhook.Claim{}, fmt.Errorf("redisdedupe: begin %s: %w", shortKey(key), err)
	}
	switch st {
	case 0:
		// The lease started on the server after start: the claim is safe at least until then.
		return pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryNew, Token: token, Expires: start.Add(s.lease)}, nil
	case 1:
		return pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryInProgress}, nil
	case 2:
		return pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryDone}, nil
	}
	return pcwebhook.Claim{}, fmt.Errorf("redisdedupe: begin %s: unexpected answer %d from the script", shortKey(key), st)
}

// Done marks the claimed delivery as handled, for the retention, and remembers the claim's token
// with it: a repeated Done of the same claim (go-redis retried it after a lost reply) returns nil
// and changes nothing. When the claim is no longer the current one (see pcwebhook.DedupeStore)
// it changes nothing and returns an error wrapping pcwebhook.ErrClaimLost.
func (s *Store) Done(ctx context.Context, c pcwebhook.Claim) error {
	answer, err := s.end(ctx, "done", doneScript, c)
	if err == nil && answer != 1 {
		err = claimLost("done", c)
	}
	return err
}

// Release forgets the claimed delivery after a failure, so that the retry handles it again. A
// repeated Release of the same claim (go-redis retried it after a lost reply) finds the key free
// before the claim's Expires and returns nil. When the claim is no longer the current one it
// changes nothing and returns an error wrapping pcwebhook.ErrClaimLost.
func (s *Store) Release(ctx context.Context, c pcwebhook.Claim) error {
	answer, err := s.end(ctx, "release", releaseScript, c)
	switch {
	case err != nil:
		return err
	case answer == releaseFreed:
		return nil
	case answer == releaseFree && time.Now().Before(c.Expires):
		return nil // before Expires the key can be free only because this claim gave it up
	}
	return claimLost("release", c)
}

// end runs an owner-checked script for c and returns its answer.
// Both scripts take the token and the retention (which releaseScript ignores).
func (s *Store) end(ctx context.Context, op string, script *redis.Script, c pcwebhook.Claim) (int64, error) {
	if s == nil || s.rdb == nil {
		return 0, ErrNoClient
	}
	if !validToken(c.Token) {
		return 0, fmt.Errorf("redisdedupe: %s %s: not a claim of this store: %w", op, shortKey(c.Key), pcwebhook.ErrClaimLost)
	}
	answer, err := script.Run(ctx, s.rdb, []string{s.prefix + c.Key}, c.Token, s.retention.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("redisdedupe: %s %s: %w", op, shortKey(c.Key), err)
	}
	return answer, nil
}

// claimLost is the error of a Done or Release whose claim is no longer the current one.
func claimLost(op string, c pcwebhook.Claim) error {
	return fmt.Errorf("redisdedupe: %s %s: %w", op, shortKey(c.Key), pcwebhook.ErrClaimLost)
}

// newToken returns 128 random bits in hex.
func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// validToken reports whether t has the shape of newToken's tokens, so that no claim can name
// the done mark (or anything else) as its token.
func validToken(t string) bool {
	if len(t) != 32 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// shortKey abbreviates a key for errors and logs.
func shortKey(key string) string {
	if len(key) > 12 {
		return key[:12]
	}
	return key
}
