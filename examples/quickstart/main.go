// Command quickstart shows the whole pcwebhook flow on one machine, with no Partner Center
// account: it starts a Handler on a loopback port, registers typed callbacks, and plays Partner
// Center with pcwebhooktest.Sender to deliver every documented event, plus a tampered one, a
// duplicate and an event name this version does not know. It prints what happened to each and
// exits 0 only when every outcome is the expected one.
//
//	go run ./examples/quickstart
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// delivery is one request the quickstart sends, and what must come of it.
type delivery struct {
	label      string
	body       []byte
	tamper     bool
	wantStatus int
	wantRun    bool // whether a callback must run for it
}

func run(ctx context.Context, out io.Writer) error {
	// 1. Play Partner Center: a throwaway CA chain and a signing certificate served on loopback.
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		return err
	}
	defer sender.Close()

	// 2. The receiver: a Handler that trusts this sender, with typed callbacks.
	rec := &recorder{runs: map[string]int{}, ids: map[string]string{}}
	h := pcwebhook.NewHandler(
		pcwebhook.WithVerifier(sender.Verifier()),
		pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
		return rec.record(e.Raw, fmt.Sprintf("customer=%s subscription=%s", short(e.CustomerID), short(e.SubscriptionID)))
	})
	h.OnGranularAdminRelationshipApproved(func(ctx context.Context, e *pcwebhook.GranularAdminRelationshipEvent) error {
		return rec.record(e.Raw, "relationship="+short(e.RelationshipID))
	})
	h.OnAzureFraudEventDetected(func(ctx context.Context, e *pcwebhook.FraudEvent) error {
		return rec.record(e.Raw, fmt.Sprintf("customer=%s subscription=%s", short(e.CustomerID), short(e.SubscriptionID)))
	})
	// Every other event: OnAny sees them all; Event.IDs lists the IDs of any family.
	h.OnAny(func(ctx context.Context, e *pcwebhook.Event) error {
		switch e.Name {
		case pcwebhook.EventSubscriptionUpdated, pcwebhook.EventGranularAdminRelationshipApproved, pcwebhook.EventAzureFraudEventDetected:
			return nil // their typed callbacks record them
		}
		if !e.Name.Known() {
			return nil // OnUnknown records it
		}
		return rec.record(e.Raw, describe(e))
	})
	h.OnUnknown(func(ctx context.Context, e *pcwebhook.Event) error {
		return rec.record(e.Raw, "(unknown event: delivered to OnUnknown)")
	})

	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/partner-center", h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/webhooks/partner-center"
	fmt.Fprintf(out, "Handler listening on %s\n\n", url)

	// 3. Deliver every documented event, then the hostile and odd ones.
	var plan []delivery
	for _, name := range pcwebhook.KnownEventNames() {
		plan = append(plan, delivery{label: string(name), body: pcwebhooktest.SampleEvent(name), wantStatus: 200, wantRun: true})
	}
	plan = append(plan,
		delivery{label: "tampered body (forged)", body: pcwebhooktest.SampleEvent(pcwebhook.EventInvoiceReady), tamper: true, wantStatus: 401},
		delivery{label: "duplicate of subscription-updated", body: pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated), wantStatus: 200},
		delivery{label: "billing-profile-updated (unknown)", body: pcwebhooktest.SampleEvent("billing-profile-updated"), wantStatus: 200, wantRun: true},
	)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tTYPED IDS\tSTATUS\tOUTCOME")
	failures := 0
	for _, d := range plan {
		before, _ := rec.runsOf(d.body)
		status, err := deliver(ctx, sender, url, d)
		if err != nil {
			return fmt.Errorf("%s: %w", d.label, err)
		}
		after, ids := rec.runsOf(d.body)
		ran := after > before
		outcome, ok := judge(d, status, ran)
		if !ok {
			failures++
		}
		if !ran || ids == "" {
			ids = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", d.label, ids, status, outcome)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if failures > 0 {
		return fmt.Errorf("%d of %d deliveries did not end as expected", failures, len(plan))
	}
	fmt.Fprintf(out, "All %d deliveries ended as expected: %d documented events handled, the forgery rejected, the duplicate acknowledged without running callbacks, the unknown event delivered.\n",
		len(plan), len(pcwebhook.KnownEventNames()))
	return nil
}

// deliver posts one delivery, signed by the sender (and then altered, when tamper is set).
func deliver(ctx context.Context, s *pcwebhooktest.Sender, url string, d delivery) (int, error) {
	if !d.tamper {
		resp, err := s.Send(ctx, url, d.body)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	header := s.Sign(d.body)
	forged := bytes.Replace(d.body, []byte(`"invoice"`), []byte(`"INVOICE"`), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(forged))
	if err != nil {
		return 0, err
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// judge says what happened and whether it is what the plan expects.
func judge(d delivery, status int, ran bool) (string, bool) {
	var what string
	switch {
	case status == 401:
		what = "rejected: signature does not verify"
	case status == 200 && ran:
		what = "handled by its callback"
	case status == 200 && !ran:
		what = "acknowledged, callbacks not run again"
	default:
		what = fmt.Sprintf("unexpected (HTTP %d)", status)
	}
	if status != d.wantStatus || ran != d.wantRun {
		return "FAIL: " + what, false
	}
	return "ok: " + what, true
}

// recorder counts the callback runs of every body, with the IDs the callback saw.
type recorder struct {
	mu   sync.Mutex
	runs map[string]int
	ids  map[string]string
}

func (r *recorder) record(raw []byte, ids string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs[string(raw)]++
	r.ids[string(raw)] = ids
	if r.runs[string(raw)] > 1 {
		return errors.New("callback ran twice for one body")
	}
	return nil
}

// runsOf returns how many times a callback ran for body, and the IDs it saw.
func (r *recorder) runsOf(body []byte) (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[string(body)], r.ids[string(body)]
}

// describe prints the IDs of any event, whatever its family: Event.IDs lists them in the order
// of the typed struct's fields, named as its fields (CustomerID is printed customer=...).
func describe(e *pcwebhook.Event) string {
	ids := e.IDs()
	if len(ids) == 0 {
		return "(no ID: " + e.ResourceName + ")"
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strings.ToLower(strings.TrimSuffix(id.Name, "ID")) + "=" + short(id.Value)
	}
	return strings.Join(parts, " ")
}

// short keeps the first block of a GUID, for a table that fits a terminal.
func short(id string) string {
	if id == "" {
		return "(none)"
	}
	if i := strings.IndexByte(id, '-'); i > 0 {
		return id[:i] + "…"
	}
	return id
}
