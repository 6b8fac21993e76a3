package main

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/capread"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// rig holds what every scenario shares: the sender playing Partner Center, the canary, the
// signed bodies, and the client.
type rig struct {
	cfg         config
	sender      *pcwebhooktest.Sender
	canary      *httptest.Server
	canaryConns atomic.Int64
	client      *http.Client
	signed      []delivery // unique, correctly signed
}

func newRig(cfg config, stderr io.Writer) (*rig, error) {
	s, err := pcwebhooktest.NewSender()
	if err != nil {
		return nil, err
	}
	r := &rig{cfg: cfg, sender: s}
	r.canary = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	r.canary.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			r.canaryConns.Add(1)
		}
	}
	r.canary.StartTLS()
	r.client = &http.Client{Transport: &http.Transport{
		MaxIdleConns:        cfg.concurrency * 2,
		MaxIdleConnsPerHost: cfg.concurrency * 2,
		IdleConnTimeout:     30 * time.Second,
	}, Timeout: 30 * time.Second}

	n := 0
	// Every scenario but duplicates and replay sends the signed bodies (as they are, tampered, or
	// re-addressed).
	if slices.ContainsFunc(cfg.scenarios, func(s string) bool { return s != "duplicates" && s != "replay" }) {
		n = cfg.valid
	}
	if n > 0 {
		fmt.Fprintf(stderr, "signing %d unique events...\n", n)
		r.signed = r.signMany(n)
	}
	return r, nil
}

// signMany signs n distinct bodies on every CPU: signing is far slower than verifying.
func (r *rig) signMany(n int) []delivery {
	out := make([]delivery, n)
	names := pcwebhook.KnownEventNames()
	base := time.Now().UTC() // not a fixed date: a receiver with WithMaxEventAge must accept them on any day
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				body := pcwebhooktest.SampleEventAt(names[i%len(names)], base.Add(time.Duration(i)*time.Millisecond))
				out[i] = delivery{body: body, header: r.sender.Sign(body)}
			}
		}()
	}
	wg.Wait()
	return out
}

func (r *rig) close() {
	r.canary.Close()
	r.sender.Close()
	r.client.CloseIdleConnections()
}

// serve starts h on a loopback port behind net/http and returns its URL and a stop function.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/webhooks/partner-center", func() { _ = srv.Close() }, nil
}

// floorHandler is the least a receiver can do: read the body (with the Handler's capped reader),
// check its RSA signature, and answer as the Handler acknowledges a delivery (200 and the same
// short text, so that both exchanges carry the same bytes on the wire).
func floorHandler(pub *rsa.PublicKey) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := capread.Read(r.Body, 64<<10, r.ContentLength)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		sig, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.Header.Get("Authorization"), "Signature "))
		sum := sha256.Sum256(body)
		if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
}

// scenario runs one scenario against a fresh Handler (or the floor server).
func (r *rig) scenario(ctx context.Context, name string) (*result, error) {
	res := &result{Scenario: name, Extra: map[string]any{}}
	var h http.Handler
	var v *pcwebhook.Verifier
	if name == "floor" {
		h = floorHandler(r.sender.Leaf().PublicKey.(*rsa.PublicKey))
	} else {
		v = r.sender.Verifier()
		hh := pcwebhook.NewHandler(pcwebhook.WithVerifier(v), pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
		var handled atomic.Int64
		hh.OnAny(func(context.Context, *pcwebhook.Event) error { handled.Add(1); return nil })
		defer func() { res.Extra["callbacks_run"] = handled.Load() }()
		h = hh
	}
	url, stop, err := serve(h)
	if err != nil {
		return nil, err
	}
	defer stop()

	count, next := r.plan(name)
	downloadsBefore, canaryBefore := r.sender.Downloads(), r.canaryConns.Load()
	if name == "duplicates" || name == "replay" {
		// The delivery they repeat was handled before they start, as a captured delivery was:
		// the flood then measures the duplicate path, not a race with the first delivery (whose
		// concurrent copies are rightly answered 503 duplicate-in-progress).
		if err := r.deliverOnce(ctx, url, next(0)); err != nil {
			return nil, err
		}
	}
	res.RSSBeforeMiB = rssMiB()
	lat, status, errs, elapsed := drive(ctx, r.client, url, r.cfg.concurrency, count, r.cfg.duration, next)
	res.RSSAfterMiB = rssMiB()
	res.summarize(lat, elapsed)
	res.Status, res.Errors = status, errs
	res.CertDownloads = r.sender.Downloads() - downloadsBefore
	res.CanaryHits = r.canaryConns.Load() - canaryBefore
	if v != nil {
		st := v.Stats()
		res.Extra["verifier"] = st
	}
	return res, nil
}

// deliverOnce posts d to url and fails unless it is acknowledged.
func (r *rig) deliverOnce(ctx context.Context, url string, d delivery) error {
	code, err := post(ctx, r.client, url, d)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("the first delivery was answered %d", code)
	}
	return err
}

// plan returns how many requests a scenario sends and which one is the i-th.
func (r *rig) plan(name string) (int, func(int) delivery) {
	switch name {
	case "floor", "valid":
		return len(r.signed), func(i int) delivery { return r.signed[i] }
	case "duplicates":
		d := r.duplicate()
		return r.cfg.duplicates, func(int) delivery { return d }
	case "replay":
		d := r.duplicate() // a captured genuine delivery, replayed as a flood
		return r.cfg.hostile, func(int) delivery { return d }
	case "bad-signature":
		tampered := make([]delivery, len(r.signed))
		for i, d := range r.signed {
			body := append([]byte(nil), d.body...)
			body[len(body)/2] ^= 0x20 // flips the case of a letter, or a digit into another character
			tampered[i] = delivery{body: body, header: d.header}
		}
		return r.cfg.hostile, func(i int) delivery { return tampered[i%len(tampered)] }
	case "foreign-cert-url":
		foreign := r.canary.URL + "/cert/pcnotifications-dispatch.microsoft.com.cer"
		forged := make([]delivery, len(r.signed))
		for i, d := range r.signed {
			hdr := d.header.Clone()
			hdr.Set(pcwebhook.HeaderCertificateURL, foreign)
			forged[i] = delivery{body: d.body, header: hdr}
		}
		return r.cfg.hostile, func(i int) delivery { return forged[i%len(forged)] }
	}
	panic("unknown scenario " + name)
}

// duplicate is one signed delivery that the duplicates and replay scenarios send again and again.
func (r *rig) duplicate() delivery {
	body := pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated)
	return delivery{body: body, header: r.sender.Sign(body)}
}
