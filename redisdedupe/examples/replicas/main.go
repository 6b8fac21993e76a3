// Command replicas runs three webhook receivers (three Handlers, each with its own Redis client
// and redisdedupe.Store) that share one Redis, and plays Partner Center against them with
// pcwebhooktest.Sender: every event is delivered three times at once, to three different
// replicas, and every delivery not answered 200 is retried on the next replica, as Partner Center
// retries. Some callbacks fail on their first run. It prints a table showing each event handled
// once, and exits 0 only when every event's callback succeeded exactly once.
//
//	go run ./examples/replicas                      # from the redisdedupe folder; starts a local redis-server
//	go run ./examples/replicas -redis 127.0.0.1:6379 # or PCWEBHOOK_REDIS_ADDR=127.0.0.1:6379
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
	"github.com/partnercenter-go/pcwebhook/redisdedupe"
	"github.com/partnercenter-go/pcwebhook/redisdedupe/internal/redisserver"
)

func main() {
	addr := flag.String("redis", os.Getenv("PCWEBHOOK_REDIS_ADDR"), "Redis address host:port (default: $PCWEBHOOK_REDIS_ADDR, else a redis-server started here)")
	events := flag.Int("events", 12, "number of distinct events")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, config{redisAddr: *addr, events: *events, copies: 3}); err != nil {
		fmt.Fprintln(os.Stderr, "replicas:", err)
		os.Exit(1)
	}
}

// config is what main reads from its flags.
type config struct {
	redisAddr string // empty: start a local redis-server
	events    int    // distinct events
	copies    int    // deliveries of each event sent at once
}

// names are the events the example delivers, in turn.
var names = []pcwebhook.EventName{
	pcwebhook.EventSubscriptionUpdated, pcwebhook.EventInvoiceReady, pcwebhook.EventCreateTransfer,
	pcwebhook.EventGranularAdminRelationshipApproved, pcwebhook.EventReferralCreated, pcwebhook.EventUsageRecordsThresholdExceeded,
}

// row is what happened to one event.
type row struct {
	name      pcwebhook.EventName
	attempts  int
	statuses  map[int]int
	failed    int      // callback runs that returned an error
	succeeded []string // replicas whose callback succeeded
}

func run(ctx context.Context, out io.Writer, cfg config) error {
	addr := cfg.redisAddr
	if addr == "" {
		dir, err := os.MkdirTemp("", "pcwebhook-replicas-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		srv, err := redisserver.Run(dir)
		if errors.Is(err, redisserver.ErrNotInstalled) {
			return fmt.Errorf("%w; or pass -redis host:port", err)
		}
		if err != nil {
			return err
		}
		defer srv.Stop()
		addr = srv.Addr
		fmt.Fprintf(out, "started redis-server on %s (pid %d, no persistence)\n", addr, srv.PID())
	}

	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		return err
	}
	defer sender.Close()

	// Every run uses its own key prefix, so that a shared Redis does not remember the events
	// of an earlier run; the keys expire after an hour.
	var id [4]byte
	_, _ = rand.Read(id[:])
	prefix := "pcwebhook:example:" + hex.EncodeToString(id[:]) + ":"

	var mu sync.Mutex
	base := time.Now().UTC().Truncate(time.Second)
	rows := make([]*row, cfg.events)
	for i := range rows {
		rows[i] = &row{name: names[i%len(names)], statuses: map[int]int{}}
	}

	// Three replicas: in production, three processes with the same code and configuration.
	replicas := make([]*httptest.Server, 3)
	for i := range replicas {
		name := fmt.Sprintf("replica-%d", i+1)
		rdb := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: time.Second, WriteTimeout: time.Second})
		defer rdb.Close()
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis at %s: %w", addr, err)
		}
		store := redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(prefix), redisdedupe.WithRetention(time.Hour))
		h := pcwebhook.NewHandler(
			pcwebhook.WithVerifier(sender.Verifier()), // in production: the default Verifier
			pcwebhook.WithDedupeStore(store),
			// The table below says what happened; a real receiver logs to its own sink.
			pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		)
		h.OnAny(func(_ context.Context, e *pcwebhook.Event) error {
			mu.Lock()
			defer mu.Unlock()
			i := int(e.ResourceChangeUTCDate.Sub(base) / time.Second)
			r := rows[i]
			if i%4 == 3 && r.failed == 0 {
				r.failed++ // every fourth event's downstream is unavailable at first
				return errors.New("downstream unavailable")
			}
			r.succeeded = append(r.succeeded, name)
			return nil
		})
		replicas[i] = httptest.NewServer(h)
		defer replicas[i].Close()
	}

	// Partner Center: each event sent cfg.copies times at once, to different replicas; a
	// delivery not answered 200 is retried on the next replica.
	var wg sync.WaitGroup
	errs := make(chan error, cfg.events*cfg.copies)
	for i := range rows {
		body := pcwebhooktest.SampleEventAt(rows[i].name, base.Add(time.Duration(i)*time.Second))
		for c := 0; c < cfg.copies; c++ {
			wg.Add(1)
			go func(i, c int) {
				defer wg.Done()
				for attempt := 0; ; attempt++ {
					resp, err := sender.Send(ctx, replicas[(i+c+attempt)%len(replicas)].URL, body)
					if err != nil {
						errs <- err
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					rows[i].attempts++
					rows[i].statuses[resp.StatusCode]++
					mu.Unlock()
					if resp.StatusCode == http.StatusOK {
						return
					}
					if attempt == 300 {
						errs <- fmt.Errorf("event %d: still %d after %d attempts", i, resp.StatusCode, attempt+1)
						return
					}
					time.Sleep(10 * time.Millisecond) // Partner Center waits longer (Retry-After)
				}
			}(i, c)
		}
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tevent\tdeliveries\tanswers\tfailed runs\thandled by\tsucceeded")
	once := 0
	for i, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%d\t%s\t%d\n", i+1, r.name, r.attempts, answers(r.statuses), r.failed, strings.Join(r.succeeded, ","), len(r.succeeded))
		if len(r.succeeded) == 1 {
			once++
		}
	}
	tw.Flush()
	keys, err := countKeys(ctx, addr, prefix)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d events, %d deliveries sent at once (%d each), %d handled exactly once; %d Redis keys\n",
		len(rows), len(rows)*cfg.copies, cfg.copies, once, keys)
	if once != len(rows) {
		return fmt.Errorf("%d of %d events were not handled exactly once", len(rows)-once, len(rows))
	}
	return nil
}

// answers writes status counts as "200x3 503x2".
func answers(m map[int]int) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%dx%d", c, m[c])
	}
	return strings.Join(parts, " ")
}

// countKeys counts the keys under prefix: one per event.
func countKeys(ctx context.Context, addr, prefix string) (int, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	n := 0
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		n++
	}
	return n, iter.Err()
}
