package redisdedupe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
	"github.com/partnercenter-go/pcwebhook/redisdedupe"
	"github.com/partnercenter-go/pcwebhook/redisdedupe/internal/redisserver"
)

// replica is one receiver process: its own Redis client, store, Handler, verifier and server.
type replica struct {
	name  string
	rdb   *redis.Client
	store *redisdedupe.Store
	h     *pcwebhook.Handler
	srv   *httptest.Server
	logs  *testio.Buffer
}

// newReplicas starts n replicas sharing srv under one key prefix.
func newReplicas(t *testing.T, srv *redisserver.Server, sender *pcwebhooktest.Sender, n int, opts ...redisdedupe.Option) []*replica {
	t.Helper()
	prefix := uniquePrefix(t)
	out := make([]*replica, n)
	for i := range out {
		r := &replica{name: fmt.Sprintf("replica-%d", i+1), logs: &testio.Buffer{}}
		// Fewer retries than go-redis's defaults (which hold a delivery about 2 s when Redis
		// refuses connections), so the outage tests run quickly.
		r.rdb = redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second,
			MaxRetries: 1, DialerRetries: 1})
		t.Cleanup(func() { _ = r.rdb.Close() })
		r.store = redisdedupe.New(r.rdb, append([]redisdedupe.Option{redisdedupe.WithKeyPrefix(prefix)}, opts...)...)
		r.h = pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()), pcwebhook.WithDedupeStore(r.store),
			pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(r.logs, nil))))
		r.srv = httptest.NewServer(r.h)
		t.Cleanup(r.srv.Close)
		out[i] = r
	}
	return out
}

// delivery is a signed body, sent as Partner Center sends it, as often as needed.
type delivery struct {
	body   []byte
	header http.Header
}

func newDelivery(s *pcwebhooktest.Sender, body []byte) delivery {
	return delivery{body: body, header: s.Sign(body)}
}

// post sends d to r and returns the status and the Retry-After header.
func (r *replica) post(t *testing.T, d delivery) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.srv.URL, bytes.NewReader(d.body))
	require.NoError(t, err)
	req.Header = d.header.Clone()
	resp, err := r.srv.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// eventAt is a distinct event body: SampleEvent with its own date, which identifies it in the
// callbacks.
func eventAt(base time.Time, i int) []byte {
	return pcwebhooktest.SampleEventAt(pcwebhook.EventSubscriptionUpdated, base.Add(time.Duration(i)*time.Second))
}

// Three replicas, one Redis: 300 events, each delivered three times at once to three different
// replicas, every seventh callback failing on its first run; every delivery that is not
// answered 200 is retried, on the next replica, as Partner Center retries. Every event's
// callback succeeds exactly once.
func TestReplicasHandleEachEventOnce(t *testing.T) {
	srv := redisserver.Start(t)
	sender, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	t.Cleanup(sender.Close)
	replicas := newReplicas(t, srv, sender, 3)

	const events, copies = 300, 3
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	deliveries := make([]delivery, events)
	for i := range deliveries {
		deliveries[i] = newDelivery(sender, eventAt(base, i))
	}
	var succeeded, failed [events]atomic.Int32
	var ranOn [events]atomic.Value
	for _, r := range replicas {
		r := r
		r.h.OnSubscriptionUpdated(func(_ context.Context, e *pcwebhook.SubscriptionEvent) error {
			i := int(e.ResourceChangeUTCDate.Sub(base) / time.Second)
			if i%7 == 0 && failed[i].Add(1) == 1 {
				return errors.New("downstream unavailable")
			}
			succeeded[i].Add(1)
			ranOn[i].Store(r.name)
			return nil
		})
	}

	type task struct{ event, copy int }
	tasks := make(chan task)
	var statuses sync.Map // status -> *atomic.Int32
	count := func(status int) {
		v, _ := statuses.LoadOrStore(status, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
	}
	var wg sync.WaitGroup
	for w := 0; w < 3*copies; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tk := range tasks {
				for attempt := 0; ; attempt++ {
					status, _ := replicas[(tk.event+tk.copy+attempt)%len(replicas)].post(t, deliveries[tk.event])
					count(status)
					if status == http.StatusOK {
						break
					}
					if status < 500 || attempt == 200 {
						t.Errorf("event %d: status %d after %d attempts", tk.event, status, attempt+1)
						break
					}
					time.Sleep(time.Duration(min(2+attempt, 20)) * time.Millisecond)
				}
			}
		}()
	}
	for i := 0; i < events; i++ {
		for c := 0; c < copies; c++ { // the copies of one event are sent at once
			tasks <- task{i, c}
		}
	}
	close(tasks)
	wg.Wait()

	perReplica := map[string]int{}
	for i := 0; i < events; i++ {
		assert.Equal(t, int32(1), succeeded[i].Load(), "event %d: the callback succeeded exactly once", i)
		if i%7 == 0 {
			assert.Equal(t, int32(2), failed[i].Load(), "event %d: failed once, then ran once more", i)
		}
		if name, ok := ranOn[i].Load().(string); ok {
			perReplica[name]++
		}
	}
	got := map[int]int32{}
	statuses.Range(func(k, v any) bool { got[k.(int)] = v.(*atomic.Int32).Load(); return true })
	t.Logf("statuses %v; callbacks per replica %v", got, perReplica)
	assert.Equal(t, int32(events*copies), got[http.StatusOK], "every delivery ends with 200")
	assert.Equal(t, int32((events+6)/7), got[http.StatusInternalServerError], "one 500 per failing callback")
	assert.Len(t, perReplica, 3, "every replica handled some events")
	n, err := replicas[0].rdb.DBSize(context.Background()).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(events), n, "one key per event")
}

// Redis stops mid-run: deliveries get 503 with Retry-After and no callback runs; Redis comes back
// on the same port and the retry succeeds. Redis has no persistence here, so the restart forgot
// what was handled: a retry of an event handled before the outage runs again (what
// docs/replicas.md says about AOF).
func TestRedisStoppedMidRun(t *testing.T) {
	srv := redisserver.Start(t)
	sender, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	t.Cleanup(sender.Close)
	replicas := newReplicas(t, srv, sender, 2)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var runs [2]atomic.Int32
	for _, r := range replicas {
		r.h.OnSubscriptionUpdated(func(_ context.Context, e *pcwebhook.SubscriptionEvent) error {
			runs[int(e.ResourceChangeUTCDate.Sub(base)/time.Second)].Add(1)
			return nil
		})
	}
	before, during := newDelivery(sender, eventAt(base, 0)), newDelivery(sender, eventAt(base, 1))
	status, _ := replicas[0].post(t, before)
	require.Equal(t, http.StatusOK, status)

	require.NoError(t, srv.Stop())
	for _, r := range replicas {
		status, retryAfter := r.post(t, during)
		assert.Equal(t, http.StatusServiceUnavailable, status, "%s: no store, no callback: Partner Center retries", r.name)
		assert.NotEmpty(t, retryAfter)
		status, _ = r.post(t, before)
		assert.Equal(t, http.StatusServiceUnavailable, status, "%s: not even a duplicate can be told apart", r.name)
		assert.Contains(t, r.logs.String(), `"outcome":"dedupe-store-error"`)
	}
	assert.Equal(t, int32(0), runs[1].Load(), "no callback without a claim")
	assert.Equal(t, int32(1), runs[0].Load())

	require.NoError(t, srv.Restart())
	status, _ = replicas[1].post(t, during)
	assert.Equal(t, http.StatusOK, status, "Redis is back: the retry succeeds")
	status, _ = replicas[0].post(t, during)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, int32(1), runs[1].Load(), "the retried event ran once")

	status, _ = replicas[0].post(t, before)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, int32(2), runs[0].Load(), "without persistence the restart forgot the handled event")
}

// Done fails after the callbacks succeeded (Redis went away meanwhile): the answer is still 200,
// and the replica logs a WARN that a retry may run them again.
func TestDoneFailsAfterCallbacks(t *testing.T) {
	srv := redisserver.Start(t)
	sender, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	t.Cleanup(sender.Close)
	r := newReplicas(t, srv, sender, 1)[0]
	var runs atomic.Int32
	r.h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error {
		runs.Add(1)
		return srv.Stop() // the work is done; then Redis goes away
	})
	status, _ := r.post(t, newDelivery(sender, eventAt(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 0)))
	assert.Equal(t, http.StatusOK, status, "the callbacks succeeded: acknowledge")
	assert.Equal(t, int32(1), runs.Load())
	logs := r.logs.String()
	assert.Contains(t, logs, `"level":"WARN"`)
	assert.Contains(t, logs, "dedupe store failed to record the delivery; a retry may run the callbacks again")
	assert.Contains(t, logs, `"op":"done"`)
}

// A callback hangs past its lease: another replica takes the retry over and handles it; the late
// owner's Done (late success) or Release (late failure) cannot undo that, and it logs a WARN.
func TestHungCallbackPastLease(t *testing.T) {
	srv := redisserver.Start(t)
	sender, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	t.Cleanup(sender.Close)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, late := range []struct {
		name   string
		err    error
		status int
		op     string
	}{{"late success", nil, http.StatusOK, `"op":"done"`}, {"late failure", errors.New("gave up"), http.StatusInternalServerError, `"op":"release"`}} {
		t.Run(late.name, func(t *testing.T) {
			const lease = 300 * time.Millisecond
			replicas := newReplicas(t, srv, sender, 3, redisdedupe.WithLease(lease))
			hung, taker, other := replicas[0], replicas[1], replicas[2]
			entered, release := make(chan struct{}), make(chan struct{})
			hung.h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error {
				close(entered)
				<-release
				return late.err
			})
			var ran atomic.Int32
			for _, r := range []*replica{taker, other} {
				r.h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { ran.Add(1); return nil })
			}
			d := newDelivery(sender, eventAt(base, i))
			done := make(chan int)
			start := time.Now() // before the hung replica's claim, so its lease ends after start+lease
			go func() { status, _ := hung.post(t, d); done <- status }()
			<-entered
			status, _ := other.post(t, d)
			if time.Since(start) < lease { // skipped on a machine too slow to ask within the lease
				assert.Equal(t, http.StatusServiceUnavailable, status, "within the lease the delivery is in progress")
			}
			time.Sleep(time.Until(start.Add(lease + 100*time.Millisecond)))

			status, _ = taker.post(t, d)
			require.Equal(t, http.StatusOK, status, "the lease ran out: another replica takes the retry over")
			status, _ = other.post(t, d)
			assert.Equal(t, http.StatusOK, status, "and it is then a duplicate on any replica")

			close(release)
			assert.Equal(t, late.status, <-done)
			logs := hung.logs.String()
			assert.Contains(t, logs, "dedupe claim lost", "the late owner says so")
			assert.Contains(t, logs, `"level":"WARN"`)
			assert.Contains(t, logs, late.op)
			assert.Contains(t, logs, "pcwebhook: dedupe claim lost")
			for _, r := range replicas {
				status, _ = r.post(t, d)
				assert.Equal(t, http.StatusOK, status, "%s: the late owner could not undo the takeover", r.name)
			}
			assert.Equal(t, int32(1), ran.Load(), "the callback of the replica that took over ran once")
			assert.False(t, strings.Contains(taker.logs.String(), `"level":"WARN"`), "the new owner lost nothing")
		})
	}
}
