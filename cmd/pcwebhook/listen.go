package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/partnercenter-go/pcwebhook"
)

// listenFlags are the flags of the listen command.
type listenFlags struct {
	trust   trustFlags
	addr    string
	path    string
	json    bool
	forward string
	save    string
}

// runListen serves the real pcwebhook.Handler and prints every request it answers.
func runListen(ctx context.Context, a *app, args []string) int {
	f := &listenFlags{}
	cl, code, ok := a.parse(&usageSpec{
		name:     "listen",
		synopsis: "pcwebhook listen [--addr 127.0.0.1:8080] [--path /] [--dev] [--json] [--forward URL] [flags]",
		details: `Serves pcwebhook.Handler, the same one your application mounts, and prints every request it
answers: for a verified event its name, typed struct and IDs, ResourceChangeUtcDate and the
outcome; for a refused one the status and why. With --json it prints one JSON object per
request instead (banner lines then go to standard error).

By default it verifies like production: Partner Center's certificate URL and this system's
roots (--allow-cert-url adds a certificate URL prefix, for a sovereign cloud). With --dev it
trusts only the local development CA of "pcwebhook trigger", and never downloads anything.

--forward URL re-posts each verified event, byte for byte with its Content-Type and signature
headers, to your application, and reports its status and what it would mean from Partner
Center (a 4xx is not retried: the event would be lost; a 5xx is retried); when the application
does not answer 2xx the Handler answers 500, so the sender retries. A Partner Center delivery
keeps Partner Center's signature, which the app's production verifier accepts; with --dev the
app must trust the development CA: pcwebhookdev.NewVerifier(DIR) with the directory this prints.

--save DIR writes each request's headers and exact body bytes to DIR, in the form
"pcwebhook verify --headers F --body F" reads.

--path / accepts every path; any other value accepts only that path. Stop with Ctrl+C.`,
	}, args, func(fs *flag.FlagSet) {
		fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "the `host:port` to listen on (port 0 picks a free one)")
		fs.StringVar(&f.path, "path", "/", "the URL `path` to accept events on")
		fs.BoolVar(&f.json, "json", false, "print one JSON object per request")
		fs.StringVar(&f.forward, "forward", "", "re-post verified events to this `URL`")
		fs.StringVar(&f.save, "save", "", "save every request in this `directory` as NAME.headers and NAME.body, for \"pcwebhook verify\"")
		f.trust.define(fs)
	})
	if !ok {
		return code
	}
	if cl.NArg() > 0 {
		return a.usageError(cl, "unexpected arguments: "+strings.Join(cl.args, " "))
	}
	if !strings.HasPrefix(f.path, "/") {
		return a.usageError(cl, "--path must start with /")
	}
	var fwd *forwarder
	if strings.TrimSpace(f.forward) != "" {
		u, err := url.Parse(strings.TrimSpace(f.forward))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return a.usageError(cl, fmt.Sprintf("--forward %q is not an absolute http or https URL", f.forward))
		}
		fwd = &forwarder{url: u.String(), client: &http.Client{Timeout: 30 * time.Second}, dev: f.trust.dev}
	}
	tr, err := a.buildVerifier(&f.trust, true, time.Time{})
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: %v\n", err)
		return 2
	}

	if f.save != "" {
		if err := os.MkdirAll(f.save, 0o700); err != nil {
			fmt.Fprintf(a.stderr, "pcwebhook: --save: %v\n", err)
			return 2
		}
	}

	stdout := &syncWriter{w: a.stdout}
	stderr := &syncWriter{w: a.stderr}
	banner := io.Writer(stdout)
	if f.json {
		banner = stderr
	}
	l := &listener{
		path:    f.path,
		json:    f.json,
		forward: fwd,
		save:    f.save,
		out:     stdout,
	}
	l.handler = pcwebhook.NewHandler(
		pcwebhook.WithVerifier(tr.verifier),
		// listen prints every request itself, from the Handler's Result; the log line would repeat it.
		pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		pcwebhook.WithObserver(l.observe),
	)
	l.handler.OnAny(l.onEvent)

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: %v\n", err)
		return 1
	}
	srv := &http.Server{
		Handler:           l,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	listenURL := "http://" + ln.Addr().String() + f.path
	if tr.created {
		fmt.Fprintf(banner, "Created the development CA in %s\n", tr.ca.dir)
	}
	fmt.Fprintf(banner, "Listening on %s\n", listenURL)
	fmt.Fprintf(banner, "  verifying with %s\n", tr.policy)
	if fwd != nil {
		fmt.Fprintf(banner, "  forwarding verified events to %s\n", fwd.url)
	}
	if f.save != "" {
		fmt.Fprintf(banner, "  saving every request in %s\n", f.save)
	}
	if f.trust.dev && fwd != nil {
		fmt.Fprintf(banner, "  your app must trust the development CA: %s\n", appTrustLine(tr.ca.dir))
	}
	if f.trust.dev {
		fmt.Fprintf(banner, "  send one with: pcwebhook trigger subscription-updated --url %s", listenURL)
		if f.trust.configDir != "" {
			fmt.Fprintf(banner, " --config-dir %s", f.trust.configDir)
		}
		fmt.Fprintln(banner)
	}
	fmt.Fprintln(banner, "Press Ctrl+C to stop.")
	fmt.Fprintln(banner)

	select {
	case err := <-served:
		fmt.Fprintf(a.stderr, "pcwebhook: serving: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	fmt.Fprintln(banner, "Stopped.")
	return 0
}

// listener wraps the Handler: it records what happened to each request and prints it.
type listener struct {
	handler *pcwebhook.Handler
	path    string
	json    bool
	forward *forwarder
	save    string
	saved   atomic.Int64 // requests saved, for file names
	out     *syncWriter
}

// delivery is what is learnt about one request while the Handler serves it. It lives in the
// request's context; only the request's goroutine touches it.
type delivery struct {
	header  http.Header
	event   *pcwebhook.Event // set by the OnAny callback: verified and not a duplicate
	status  int              // from the Handler's Result
	outcome string           // likewise
	err     error            // likewise: why the request failed
	forward *forwardResult
	saved   string // the files written by --save, without extension
	saveErr error
}

// deliveryKey is the context key of the *delivery.
type deliveryKey struct{}

// ServeHTTP implements http.Handler.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if l.path != "/" && r.URL.Path != l.path {
		http.Error(w, "not found: this listener accepts events on "+l.path, http.StatusNotFound)
		l.report(r, http.StatusNotFound, &delivery{outcome: "wrong-path", err: errors.New("listening on " + l.path + " only (--path)")}, time.Since(start))
		return
	}
	d := &delivery{header: r.Header}
	var body bytes.Buffer
	if r.Body != nil && l.save != "" {
		r.Body = &teeBody{ReadCloser: r.Body, buf: &body, max: pcwebhook.DefaultMaxBodyBytes + 1}
	}
	l.handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), deliveryKey{}, d)))
	if l.save != "" {
		d.saved, d.saveErr = l.saveRequest(r, body.Bytes())
	}
	l.report(r, d.status, d, time.Since(start))
}

// saveRequest writes the request's headers (after its request line) and its body to the save
// directory, and returns the common path of the two files without extension.
func (l *listener) saveRequest(r *http.Request, body []byte) (string, error) {
	base := filepath.Join(l.save, fmt.Sprintf("%s-%03d", time.Now().UTC().Format("20060102T150405Z"), l.saved.Add(1)))
	var h bytes.Buffer
	fmt.Fprintf(&h, "%s %s %s\r\n", r.Method, r.URL.RequestURI(), r.Proto)
	fmt.Fprintf(&h, "Host: %s\r\n", r.Host)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&h, "%s: %s\r\n", k, v)
		}
	}
	if err := os.WriteFile(base+".headers", h.Bytes(), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".body", body, 0o600); err != nil {
		return "", err
	}
	return base, nil
}

// observe records the Handler's Result in the request's delivery.
func (l *listener) observe(r *http.Request, res pcwebhook.Result) {
	d, _ := r.Context().Value(deliveryKey{}).(*delivery)
	if d == nil {
		return
	}
	d.status, d.outcome, d.err = res.Status, string(res.Outcome), res.Err
	if d.event == nil {
		d.event = res.Event // a duplicate: decoded, but no callback ran
	}
}

// onEvent is the OnAny callback: it records the event and forwards it.
func (l *listener) onEvent(ctx context.Context, e *pcwebhook.Event) error {
	d, _ := ctx.Value(deliveryKey{}).(*delivery)
	if d == nil {
		return nil
	}
	d.event = e
	if l.forward == nil {
		return nil
	}
	d.forward = l.forward.send(ctx, e, d.header)
	return d.forward.err
}

// report prints one request: a block of text, or a JSON line. Whatever the sender chose (the
// path, the event's fields, an error quoting its headers) goes through terminalText, and the JSON
// line through terminalJSON, so that nothing it sends acts on the terminal.
func (l *listener) report(r *http.Request, status int, d *delivery, elapsed time.Duration) {
	outcome := d.outcome
	if outcome == "" {
		outcome = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "-"))
	}
	ev := d.event
	errText, hint := "", ""
	if d.err != nil {
		errText = d.err.Error()
		var verr *pcwebhook.VerificationError
		if errors.As(d.err, &verr) {
			hint = diagnose(d.err, diagnoseInput{}).summary
		}
	}
	if d.forward != nil && d.forward.err != nil {
		errText = d.forward.err.Error()
		outcome = d.forward.outcome() // what the app did, rather than "callback-error"
	}
	var b bytes.Buffer
	if l.json {
		j := deliveryJSON{
			Time:       time.Now().UTC().Format(time.RFC3339Nano),
			Method:     r.Method,
			Path:       r.URL.Path,
			Status:     status,
			Outcome:    outcome,
			DurationMS: float64(elapsed.Microseconds()) / 1000,
			Error:      errText,
			Hint:       hint,
		}
		if ev != nil {
			j.eventJSON = newEventJSON(ev)
		}
		if d.saved != "" {
			j.Saved = d.saved
		}
		if d.forward != nil {
			j.Forward = &forwardJSON{URL: d.forward.url, Status: d.forward.status, Meaning: d.forward.meaning}
			if d.forward.err != nil {
				j.Forward.Error = d.forward.err.Error()
			}
		}
		line, err := json.Marshal(j)
		if err != nil {
			return
		}
		b.Write(terminalJSON(line))
		b.WriteByte('\n')
	} else {
		fmt.Fprintf(&b, "%s  %s %s  %d %s", time.Now().Format("15:04:05"), terminalText(r.Method), terminalText(r.URL.Path), status, outcome)
		if ev != nil {
			fmt.Fprintf(&b, "  %s", terminalText(string(ev.Name)))
		}
		fmt.Fprintf(&b, "  (%s)\n", elapsed.Round(10*time.Microsecond))
		if ev != nil && d.event != nil {
			writeEventFields(&b, ev, "    ")
		}
		if d.forward != nil {
			fmt.Fprintf(&b, "    forwarded to %s: %s (%s)\n", d.forward.url, d.forward.describe(), d.forward.elapsed.Round(10*time.Microsecond))
		}
		if errText != "" {
			fmt.Fprintf(&b, "    error: %s\n", terminalText(errText))
		}
		if d.saved != "" {
			fmt.Fprintf(&b, "    saved: %s.headers, %s.body\n", d.saved, d.saved)
		}
		if d.saveErr != nil {
			fmt.Fprintf(&b, "    not saved: %s\n", terminalText(d.saveErr.Error()))
		}
		if hint != "" {
			fmt.Fprintf(&b, "    why:   %s\n", terminalText(hint))
		}
		b.WriteByte('\n')
	}
	_, _ = l.out.Write(b.Bytes())
}

// deliveryJSON is one request in the output of listen --json.
type deliveryJSON struct {
	Time       string  `json:"time"`
	Method     string  `json:"method"`
	Path       string  `json:"path"`
	Status     int     `json:"status"`
	Outcome    string  `json:"outcome"`
	DurationMS float64 `json:"durationMs"`
	*eventJSON
	Forward *forwardJSON `json:"forward,omitempty"`
	Saved   string       `json:"saved,omitempty"`
	Error   string       `json:"error,omitempty"`
	Hint    string       `json:"hint,omitempty"`
}

// forwardJSON is the outcome of a --forward in JSON.
type forwardJSON struct {
	URL     string `json:"url"`
	Status  int    `json:"status,omitempty"`
	Meaning string `json:"meaning,omitempty"`
	Error   string `json:"error,omitempty"`
}

// forwarder re-posts verified events to the user's application.
type forwarder struct {
	url    string
	client *http.Client
	dev    bool // listen --dev: the events are signed by the development CA
}

// forwardResult is what the application answered to one forwarded event.
type forwardResult struct {
	url     string
	status  int
	meaning string // what the answer means, for a failure
	elapsed time.Duration
	err     error // non-nil when the post failed or the answer was not 2xx
}

// outcome names a failed forward in the request's line: app-answered-<status>, or
// app-unreachable.
func (r *forwardResult) outcome() string {
	if r.status == 0 {
		return "app-unreachable"
	}
	return fmt.Sprintf("app-answered-%d", r.status)
}

// forwardMeaning says what an application's answer would mean from Partner Center
// (answerMeaning: a 4xx is not retried, so the event would be lost; a 5xx is retried), with the
// likely cause of a refused signature, path or size. It is "" for a 2xx.
func (f *forwarder) forwardMeaning(status int) string {
	if status >= 200 && status <= 299 {
		return ""
	}
	m := answerMeaning(status)
	if status < 500 {
		m += ": this event would be lost"
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		trust := "Partner Center's certificate (pcwebhook.NewVerifier's production policy)"
		if f.dev {
			trust = "the development CA (pcwebhookdev.NewVerifier with the directory listen printed)"
		}
		m += ". The app refused the signature: does its Verifier trust " + trust + "?"
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		m += ". Nothing in the app accepts a POST at this URL: check --forward's path."
	case http.StatusRequestEntityTooLarge:
		m += ". The app refused the body as too large."
	}
	return m
}

// describe says what the application answered.
func (r *forwardResult) describe() string {
	if r.status == 0 {
		return "failed"
	}
	return fmt.Sprintf("%d %s", r.status, http.StatusText(r.status))
}

// forwardedHeaders are the request headers --forward copies, besides Content-Type.
func forwardedHeaders() []string {
	return []string{pcwebhook.HeaderAuthorization, pcwebhook.HeaderMSSignature, pcwebhook.HeaderCertificateURL, pcwebhook.HeaderSignatureAlgorithm}
}

// send posts the event's raw body with the original Content-Type and signature headers.
func (f *forwarder) send(ctx context.Context, e *pcwebhook.Event, h http.Header) *forwardResult {
	res := &forwardResult{url: f.url}
	start := time.Now()
	defer func() { res.elapsed = time.Since(start) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(e.Raw))
	if err != nil {
		res.err = fmt.Errorf("forwarding to %s: %w", f.url, err)
		return res
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	for _, k := range forwardedHeaders() {
		if vs := h.Values(k); len(vs) > 0 {
			req.Header[k] = append([]string(nil), vs...)
		}
	}
	req.Header.Set("User-Agent", "pcwebhook-listen/"+libraryVersion())
	resp, err := f.client.Do(req)
	if err != nil {
		res.meaning = "the app could not be reached: is it running, at this URL? (" + answerMeaning(http.StatusBadGateway) + ")"
		var nerr net.Error
		if errors.As(err, &nerr) && nerr.Timeout() {
			res.meaning = "the app did not answer in time: " + answerMeaning(http.StatusGatewayTimeout)
		}
		res.err = fmt.Errorf("forwarding to %s: %w (%s)", f.url, err, res.meaning)
		return res
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	res.status = resp.StatusCode
	if res.meaning = f.forwardMeaning(resp.StatusCode); res.meaning != "" {
		res.err = fmt.Errorf("forwarding to %s: the app answered %d %s: %s", f.url, resp.StatusCode, http.StatusText(resp.StatusCode), res.meaning)
	}
	return res
}

// teeBody keeps a copy of the first max bytes read from a request body.
type teeBody struct {
	io.ReadCloser
	buf *bytes.Buffer
	max int
}

// Read implements io.Reader.
func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if room := t.max - t.buf.Len(); room > 0 && n > 0 {
		t.buf.Write(p[:min(n, room)])
	}
	return n, err
}

// syncWriter serializes writes from concurrent requests.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write implements io.Writer.
func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
