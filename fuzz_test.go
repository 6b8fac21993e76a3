// The package's fuzz targets live in this file, under the names .ci/run fuzzes: FuzzParseEvent,
// FuzzParseEventFastPath, FuzzVerifyHeaders and FuzzHandler; the ones that need unexported code
// reach it through export_test.go. FuzzRedactText lives with the redaction it checks
// (registration_redact_test.go), and the certificate-URL policy's FuzzMatch with the policy
// (internal/urlpolicy).

package pcwebhook_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// Fuzz inputs name the test sender's certificate server as {sender} and the genuine signature of
// the body as {sig}: the committed seeds (testdata/fuzz/) then stay valid although every run
// generates new keys and a new port, and the fuzzer can reach the paths behind a valid signature.
func expand(s *pcwebhooktest.Sender, v string, body []byte) string {
	if strings.Contains(v, "{sig}") {
		v = strings.ReplaceAll(v, "{sig}", s.Signature(body))
	}
	return strings.ReplaceAll(v, "{sender}", s.URL())
}

// genuinelySigned reports whether one of the header values carries a signature of body that the
// sender's key verifies: the only way a request may be accepted.
func genuinelySigned(s *pcwebhooktest.Sender, body []byte, values ...string) bool {
	sum := sha256.Sum256(body)
	key := s.Leaf().PublicKey.(*rsa.PublicKey)
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) > 10 && strings.EqualFold(v[:10], "signature ") {
			v = strings.TrimSpace(v[10:])
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			if sig, err := enc.DecodeString(v); err == nil && rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) == nil {
				return true
			}
		}
	}
	return false
}

// sentinels are the errors Verify's errors wrap, exactly one each: the list the Handler's status
// table reads, so that a new sentinel cannot be left out here.
var sentinels = pcwebhook.VerificationSentinels

// hostGuard records every host a verifier's downloads try to reach, and refuses all but one.
type hostGuard struct {
	allowed string
	next    http.RoundTripper
	foreign atomic.Int64
}

func (g *hostGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != g.allowed {
		g.foreign.Add(1)
		return nil, errors.New("fuzz: download outside the sender's host")
	}
	return g.next.RoundTrip(r)
}

type fuzzEnv struct {
	sender *pcwebhooktest.Sender
	guard  *hostGuard
	v      *pcwebhook.Verifier
}

var fuzzSetup = sync.OnceValues(func() (*fuzzEnv, error) {
	s, err := pcwebhooktest.NewSender()
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(s.URL())
	g := &hostGuard{allowed: u.Host, next: s.Client().Transport}
	v, err := pcwebhook.NewVerifier(append(s.VerifierOptions(), pcwebhook.WithHTTPClient(&http.Client{Transport: g}))...)
	if err != nil {
		return nil, err
	}
	return &fuzzEnv{sender: s, guard: g, v: v}, nil
})

func fuzzEnvFor(t testing.TB) *fuzzEnv {
	env, err := fuzzSetup()
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func addVerifySeeds(f *testing.F) {
	body := pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated)
	cert := "{sender}/cert/pcnotifications-dispatch.microsoft.com.cer"
	f.Add("Signature {sig}", "", cert, "rsa-sha256", body)
	f.Add("", "{sig}", cert, "RSA-SHA256", body)
	f.Add("Signature {sig}", "", "https://evil.example/cert/x.cer", "rsa-sha256", body)
	f.Add("Signature {sig}", "", cert, "rsa-sha1", body)
	f.Add("Bearer {sig}", "", cert+"?x=1", "rsa-sha256", []byte(`{"EventName":"test-created"}`))
}

// FuzzVerifyHeaders throws arbitrary headers and bodies at Verify with the certificate served
// locally. It must never panic, never accept a request without a genuine signature of its body,
// always fail with one of the sentinels, never echo the body or the signature, and never download
// from a host other than the sender's.
func FuzzVerifyHeaders(f *testing.F) {
	addVerifySeeds(f)
	f.Fuzz(func(t *testing.T, auth, msSig, certURL, alg string, body []byte) {
		env := fuzzEnvFor(t)
		auth, msSig, certURL = expand(env.sender, auth, body), expand(env.sender, msSig, body), expand(env.sender, certURL, body)
		h := http.Header{}
		for k, v := range map[string]string{
			pcwebhook.HeaderAuthorization: auth, pcwebhook.HeaderMSSignature: msSig,
			pcwebhook.HeaderCertificateURL: certURL, pcwebhook.HeaderSignatureAlgorithm: alg,
		} {
			if v != "" {
				h.Set(k, v)
			}
		}
		err := env.v.Verify(context.Background(), h, body)
		if err == nil {
			if !genuinelySigned(env.sender, body, auth, msSig) {
				t.Fatalf("accepted without a genuine signature: auth=%q x-ms-signature=%q", auth, msSig)
			}
		} else {
			matched := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					matched++
				}
			}
			if matched != 1 {
				t.Fatalf("error wraps %d sentinels, want 1: %v", matched, err)
			}
			msg := err.Error()
			for _, secret := range []string{string(body), auth, msSig} {
				if len(secret) >= 24 && strings.Contains(msg, secret) {
					t.Fatalf("error message echoes input: %v", err)
				}
			}
		}
		if n := env.guard.foreign.Load(); n != 0 {
			t.Fatalf("%d download(s) left the sender's host", n)
		}
	})
}

// FuzzHandler sends whole requests through ServeHTTP. The Handler must never panic, answer only
// with a status of its contract, and run callbacks or answer 200 only for genuinely signed bodies.
func FuzzHandler(f *testing.F) {
	body := pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated)
	cert := "{sender}/cert/pcnotifications-dispatch.microsoft.com.cer"
	f.Add("POST", "Signature {sig}", cert, "rsa-sha256", body)
	f.Add("POST", "Signature {sig}", cert, "rsa-sha256", []byte(`{"EventName":"brand-new-event"}`))
	f.Add("POST", "Signature {sig}", cert, "rsa-sha256", []byte(`{"EventName":`))
	f.Add("GET", "", "", "", []byte(nil))
	f.Add("POST", "Signature AAAA", cert, "rsa-sha256", body)
	f.Add("POST", "Signature AAAA", cert, "rsa-sha256", body) // again, inside the rotation check interval: unconfirmed
	f.Add("PUT", "Signature {sig}", cert, "rsa-sha256", body)

	allowed := map[int]bool{200: true, 400: true, 401: true, 405: true, 413: true, 500: true, 503: true}
	var once sync.Once
	var h *pcwebhook.Handler
	var ran atomic.Int64
	var last atomic.Pointer[pcwebhook.Result]
	f.Fuzz(func(t *testing.T, method, auth, certURL, alg string, body []byte) {
		env := fuzzEnvFor(t)
		once.Do(func() {
			h = pcwebhook.NewHandler(pcwebhook.WithVerifier(env.v), pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
				pcwebhook.WithObserver(func(_ *http.Request, res pcwebhook.Result) { last.Store(&res) }))
			h.OnAny(func(context.Context, *pcwebhook.Event) error { ran.Add(1); return nil })
			h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { panic("a callback panic is answered with 500") })
			h.OnInvoiceReady(func(context.Context, *pcwebhook.InvoiceEvent) error { return errors.New("callback failure") })
		})
		auth, certURL = expand(env.sender, auth, body), expand(env.sender, certURL, body)
		genuine := genuinelySigned(env.sender, body, auth)
		r := &http.Request{
			Method:        method,
			URL:           &url.URL{Path: "/webhooks/partner-center"},
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		r.Header.Set(pcwebhook.HeaderAuthorization, auth)
		r.Header.Set(pcwebhook.HeaderCertificateURL, certURL)
		r.Header.Set(pcwebhook.HeaderSignatureAlgorithm, alg)
		before := ran.Load()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if !allowed[w.Code] {
			t.Fatalf("status %d is not in the Handler's contract", w.Code)
		}
		if method != http.MethodPost && w.Code != http.StatusMethodNotAllowed {
			t.Fatalf("method %q answered %d, want 405", method, w.Code)
		}
		if !genuine && (w.Code == http.StatusOK || ran.Load() != before) {
			t.Fatalf("a request without a genuine signature got %d (callbacks run: %d)", w.Code, ran.Load()-before)
		}
		res := last.Load()
		if res == nil || res.Status != w.Code || pcwebhook.HTTPStatus(res.Err) != w.Code {
			t.Fatalf("the Result %+v disagrees with the answer %d", res, w.Code)
		}
		if res.Outcome == pcwebhook.OutcomeSignatureUnconfirmed {
			// A signature that matches no cached key inside the rotation check interval: retried.
			if genuine || w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
				t.Fatalf("unconfirmed signature answered %d (genuine %v, Retry-After %q)", w.Code, genuine, w.Header().Get("Retry-After"))
			}
		}
		if n := env.guard.foreign.Load(); n != 0 {
			t.Fatalf("%d download(s) left the sender's host", n)
		}
	})
}

// addGoldenSeeds seeds a fuzz target with every golden payload of testdata/events.
func addGoldenSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParseEvent: ParseEvent never panics; it fails only with ErrMalformedEvent, and an event it
// returns has a trimmed name, a UTC date and the input as Raw.
func FuzzParseEvent(f *testing.F) {
	addGoldenSeeds(f)
	f.Add([]byte(`{"EventName":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := pcwebhook.ParseEvent(body)
		if err != nil {
			if !errors.Is(err, pcwebhook.ErrMalformedEvent) {
				t.Fatalf("error does not wrap pcwebhook.ErrMalformedEvent: %v", err)
			}
			if e != nil {
				t.Fatal("event returned with an error")
			}
			return
		}
		if e.Name == "" || strings.TrimSpace(string(e.Name)) != string(e.Name) {
			t.Fatalf("bad name %q", e.Name)
		}
		if e.ResourceChangeUTCDate.Location() != time.UTC {
			t.Fatalf("date not in UTC: %v", e.ResourceChangeUTCDate)
		}
		if string(e.Raw) != string(body) {
			t.Fatal("Raw differs from the input")
		}
		_ = e.Typed()
	})
}

// FuzzParseEventFastPath checks the reflection-free decoder against encoding/json: whatever the
// fast path accepts, encoding/json must accept and decode to the same fields.
func FuzzParseEventFastPath(f *testing.F) {
	addGoldenSeeds(f)
	for _, s := range []string{`{}`, `{"EventName":null}`, `{"eventname":"a","EVENTNAME":"b"}`, `{"EventName":"a","EventName":null}`,
		`{"AuditUri":"x","AuditUri":null}`, `{"EventName":"\u00e9"}`, `{"EventName":"é"}`, "{\"EventName\":\"\xff\"}", `{"a":1}`, `{"EventName":"a"} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast pcwebhook.WireEvent
		if !pcwebhook.ParseWireFast(body, &fast) {
			return
		}
		var ref pcwebhook.WireEvent
		if err := json.Unmarshal(body, &ref); err != nil {
			t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, body)
		}
		if (fast.EventName == nil) != (ref.EventName == nil) || (fast.EventName != nil && *fast.EventName != *ref.EventName) {
			t.Fatalf("EventName differs: fast %v, encoding/json %v: %q", fast.EventName, ref.EventName, body)
		}
		fast.EventName, ref.EventName = nil, nil
		if fast != ref {
			t.Fatalf("fields differ:\nfast %+v\njson %+v\ninput %q", fast, ref, body)
		}
	})
}
