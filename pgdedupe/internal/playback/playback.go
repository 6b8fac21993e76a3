// Package playback plays Partner Center against a receiver, for the examples of pgdedupe: it
// opens their database, signs this run's events, delivers each one twice at once, retries every
// delivery not answered 200 (as Partner Center retries, only sooner), and prints what each event
// left in the database.
package playback

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
	"github.com/partnercenter-go/pcwebhook/pgdedupe/internal/pgserver"
)

const (
	// Events is how many events a run delivers.
	Events = 6
	// copies is how many deliveries of each event are sent at once.
	copies = 2
	// maxAttempts bounds the attempts of one delivery.
	maxAttempts = 300
)

// OpenDatabase returns a pool on the database at dsn (DATABASE_URL), or, when dsn is empty, on a
// PostgreSQL started here (pgserver), which closeDB stops. The pool has room for every delivery
// the run sends at once: each delivery in progress holds one connection.
func OpenDatabase(ctx context.Context, dsn string) (_ *pgxpool.Pool, closeDB func(), _ error) {
	dsn, stop, err := pgserver.Open(dsn)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err == nil {
		cfg.MaxConns = Events*copies + 4 // the deliveries in progress, and what the application needs besides
		var pool *pgxpool.Pool
		if pool, err = pgxpool.NewWithConfig(ctx, cfg); err == nil {
			return pool, func() { pool.Close(); _ = stop() }, nil
		}
	}
	_ = stop()
	return nil, nil, err
}

// Run is one playback: its sender (the signing certificates) and its events, dated from its
// start, so that a database used by an earlier run holds none of them.
type Run struct {
	sender *pcwebhooktest.Sender
	base   time.Time
	failed sync.Map // event number -> struct{}: its first run failed
}

// New starts a run.
func New() (*Run, error) {
	s, err := pcwebhooktest.NewSender()
	if err != nil {
		return nil, err
	}
	return &Run{sender: s, base: time.Now().UTC().Truncate(time.Microsecond)}, nil
}

// Close releases the sender's certificate server.
func (r *Run) Close() { r.sender.Close() }

// Verifier verifies the run's signatures (a real receiver uses the default Verifier).
func (r *Run) Verifier() *pcwebhook.Verifier { return r.sender.Verifier() }

// FailFirstRun returns an error on the first run of every third event, as a callback whose
// downstream is unavailable at first: call it after the callback wrote, whose writes must then
// vanish. It returns nil on every other run.
func (r *Run) FailFirstRun(e *pcwebhook.Event) error {
	i := r.number(e)
	if i%3 != 2 {
		return nil
	}
	if _, loaded := r.failed.LoadOrStore(i, struct{}{}); loaded {
		return nil
	}
	return fmt.Errorf("event %d: downstream unavailable", i+1)
}

// number is the event's place in the run.
func (r *Run) number(e *pcwebhook.Event) int {
	return int(e.ResourceChangeUTCDate.Sub(r.base) / time.Second)
}

// Count reports how many times the event changed at changedAt left its effect in the database.
type Count func(ctx context.Context, changedAt time.Time) (int, error)

// Play serves h on a loopback server, delivers the run's events to it and prints, for each
// event, the deliveries, the answers and the effects that count finds. It fails unless every
// event's effect is there exactly once.
func (r *Run) Play(ctx context.Context, out io.Writer, h http.Handler, count Count) error {
	srv := httptest.NewServer(h)
	defer srv.Close()
	events := make([]*event, Events)
	for i := range events {
		events[i] = &event{at: r.base.Add(time.Duration(i) * time.Second), statuses: map[int]int{}}
	}
	if err := r.deliver(ctx, srv.URL, events); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tevent\tdeliveries\tanswers\tfailed runs\teffects")
	once := 0
	for i, e := range events {
		n, err := count(ctx, e.at)
		if err != nil {
			return err
		}
		_, failed := r.failed.Load(i)
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%d\t%d\n", i+1, e.at.Format(time.TimeOnly), e.attempts, e.answers(), btoi(failed), n)
		if n == 1 {
			once++
		}
	}
	tw.Flush()
	fmt.Fprintf(out, "%d events, %d deliveries sent at once (%d each), %d with their effect exactly once\n",
		len(events), len(events)*copies, copies, once)
	if once != len(events) {
		return fmt.Errorf("%d of %d events do not have their effect exactly once", len(events)-once, len(events))
	}
	return nil
}

// event is what happened to the deliveries of one event.
type event struct {
	at       time.Time
	attempts int
	statuses map[int]int
}

// deliver sends each event copies times at once to url and retries each delivery until it is
// answered 200.
func (r *Run) deliver(ctx context.Context, url string, events []*event) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(events)*copies)
	for _, e := range events {
		body := pcwebhooktest.SampleEventAt(pcwebhook.EventSubscriptionUpdated, e.at)
		for c := 0; c < copies; c++ {
			wg.Add(1)
			go func(e *event) {
				defer wg.Done()
				for attempt := 1; ; attempt++ {
					status, err := r.send(ctx, url, body)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					e.attempts++
					e.statuses[status]++
					mu.Unlock()
					if status == http.StatusOK {
						return
					}
					if attempt == maxAttempts {
						errs <- fmt.Errorf("playback: still %d after %d attempts", status, attempt)
						return
					}
					time.Sleep(10 * time.Millisecond) // Partner Center waits longer (Retry-After)
				}
			}(e)
		}
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// send delivers body once and returns the status.
func (r *Run) send(ctx context.Context, url string, body []byte) (int, error) {
	resp, err := r.sender.Send(ctx, url, body)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// answers writes the status counts as "200x2 500x1".
func (e *event) answers() string {
	codes := make([]int, 0, len(e.statuses))
	for c := range e.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%dx%d", c, e.statuses[c])
	}
	return strings.Join(parts, " ")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
