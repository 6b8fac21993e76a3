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
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// listenOptions are the parsed flags of the listen command.
type listenOptions struct {
	trust   trustFlags
	addr    string
	path    string
	json    bool
	forward string // --forward as given
	save    string

	forwardURL string // the parsed --forward, or ""
}

// listenDetails is the --help text of listen.
const listenDetails = `Serves pcwebhook.Handler, the same one your application mounts, and prints every request it
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

--path / accepts every path; any other value accepts only that path. Stop with Ctrl+C.`

// runListen serves the real pcwebhook.Handler and prints every request it answers.
func runListen(ctx context.Context, a *app, args []string) int {
	o, code, ok := a.parseListen(args)
	if !ok {
		return code
	}
	tr, err := a.buildVerifier(&o.trust, true, time.Time{})
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: %v\n", err)
		return 2
	}
	if o.save != "" {
		if err := os.MkdirAll(o.save, 0o700); err != nil {
			fmt.Fprintf(a.stderr, "pcwebhook: --save: %v\n", err)
			return 2
		}
	}
	l := newListener(o, tr, &syncWriter{w: a.stdout})
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	banner := io.Writer(l.out)
	if o.json {
		banner = &syncWriter{w: a.stderr}
	}
	printListenBanner(banner, o, tr, "http://"+ln.Addr().String()+o.path)
	select {
	case err := <-served:
		fmt.Fprintf(a.stderr, "pcwebhook: serving: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	shutdown(srv)
	fmt.Fprintln(banner, "Stopped.")
	return 0
}

// parseListen parses the flags of listen.
func (a *app) parseListen(args []string) (*listenOptions, int, bool) {
	o := &listenOptions{}
	cl, code, ok := a.parse(&usageSpec{
		name:     "listen",
		synopsis: "pcwebhook listen [--addr 127.0.0.1:8080] [--path /] [--dev] [--json] [--forward URL] [flags]",
		details:  listenDetails,
		noArgs:   true,
	}, args, func(fs *flag.FlagSet) {
		fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "the `host:port` to listen on (port 0 picks a free one)")
		fs.StringVar(&o.path, "path", "/", "the URL `path` to accept events on")
		fs.BoolVar(&o.json, "json", false, "print one JSON object per request")
		fs.StringVar(&o.forward, "forward", "", "re-post verified events to this `URL`")
		fs.StringVar(&o.save, "save", "", "save every request in this `directory` as NAME.headers and NAME.body, for \"pcwebhook verify\"")
		o.trust.define(fs)
	})
	switch {
	case !ok:
		return nil, code, false
	case !strings.HasPrefix(o.path, "/"):
		return nil, a.usageError(cl, "--path must start with /"), false
	}
	if strings.TrimSpace(o.forward) != "" {
		u, problem := targetURL("--forward", o.forward)
		if problem != "" {
			return nil, a.usageError(cl, problem), false
		}
		o.forwardURL = u.String()
	}
	return o, 0, true
}

// newListener builds the listener: the Handler with the verifier, reporting to out, forwarding
// and saving as the options say.
func newListener(o *listenOptions, tr *trust, out *syncWriter) *listener {
	l := &listener{path: o.path, json: o.json, save: o.save, out: out}
	if o.forwardURL != "" {
		l.forward = &forwarder{url: o.forwardURL, client: &http.Client{Timeout: postTimeout}, dev: o.trust.dev}
	}
	l.handler = pcwebhook.NewHandler(
		pcwebhook.WithVerifier(tr.verifier),
		// listen prints every request itself, from the Handler's Result; the log line would repeat it.
		pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		pcwebhook.WithObserver(l.observe),
	)
	l.handler.OnAny(l.onEvent)
	return l
}

// printListenBanner says where listen receives, what it trusts, where it forwards and saves,
// and how to send it a development delivery.
func printListenBanner(w io.Writer, o *listenOptions, tr *trust, listenURL string) {
	if tr.created {
		fmt.Fprintf(w, "Created the development CA in %s\n", tr.ca.dir)
	}
	fmt.Fprintf(w, "Listening on %s\n", listenURL)
	fmt.Fprintf(w, "  verifying with %s\n", tr.policy)
	if o.forwardURL != "" {
		fmt.Fprintf(w, "  forwarding verified events to %s\n", o.forwardURL)
	}
	if o.save != "" {
		fmt.Fprintf(w, "  saving every request in %s\n", o.save)
	}
	if o.trust.dev && o.forwardURL != "" {
		fmt.Fprintf(w, "  your app must trust the development CA: %s\n", appTrustLine(tr.ca.dir))
	}
	if o.trust.dev {
		fmt.Fprintf(w, "  send one with: pcwebhook trigger subscription-updated --url %s", listenURL)
		if o.trust.configDir != "" {
			fmt.Fprintf(w, " --config-dir %s", o.trust.configDir)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Press Ctrl+C to stop.")
	fmt.Fprintln(w)
}

// shutdown stops the server, letting requests in progress finish for a few seconds.
func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
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
// path, the event's fields, an error quoting its headers) goes through termsafe.Text, and the JSON
// line through termsafe.JSON, so that nothing it sends acts on the terminal.
func (l *listener) report(r *http.Request, status int, d *delivery, elapsed time.Duration) {
	rep := newRequestReport(r, status, d, elapsed)
	if l.json {
		if line, err := rep.jsonLine(); err == nil {
			_, _ = l.out.Write(line)
		}
		return
	}
	_, _ = l.out.Write(rep.textBlock())
}

// requestReport is what listen prints about one request.
type requestReport struct {
	r       *http.Request
	status  int
	d       *delivery
	elapsed time.Duration
	outcome string // the Handler's outcome, or what the app did with a forward, or the status
	errText string // why the request failed, or ""
	hint    string // the diagnosis of a verification failure, or ""
}

// newRequestReport sums up a request: its outcome, error and diagnosis.
func newRequestReport(r *http.Request, status int, d *delivery, elapsed time.Duration) *requestReport {
	rep := &requestReport{r: r, status: status, d: d, elapsed: elapsed, outcome: d.outcome}
	if rep.outcome == "" {
		rep.outcome = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "-"))
	}
	if d.err != nil {
		rep.errText = d.err.Error()
		var verr *pcwebhook.VerificationError
		if errors.As(d.err, &verr) {
			rep.hint = diagnose(d.err, diagnoseInput{}).summary
		}
	}
	if d.forward != nil && d.forward.err != nil {
		rep.errText = d.forward.err.Error()
		rep.outcome = d.forward.outcome() // what the app did, rather than "callback-error"
	}
	return rep
}

// jsonLine is the report as a line of listen --json.
func (rep *requestReport) jsonLine() ([]byte, error) {
	d := rep.d
	j := deliveryJSON{
		Time:       time.Now().UTC().Format(time.RFC3339Nano),
		Method:     rep.r.Method,
		Path:       rep.r.URL.Path,
		Status:     rep.status,
		Outcome:    rep.outcome,
		DurationMS: float64(rep.elapsed.Microseconds()) / 1000,
		Error:      rep.errText,
		Hint:       rep.hint,
		Saved:      d.saved,
	}
	if d.event != nil {
		j.eventJSON = newEventJSON(d.event)
	}
	if d.forward != nil {
		j.Forward = &forwardJSON{URL: d.forward.url, Status: d.forward.status, Meaning: d.forward.meaning}
		if d.forward.err != nil {
			j.Forward.Error = d.forward.err.Error()
		}
	}
	line, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	return append(termsafe.JSON(line), '\n'), nil
}

// textBlock is the report as a block of text: a line for the request, then the event's fields
// and what happened to it, indented.
func (rep *requestReport) textBlock() []byte {
	d := rep.d
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s  %s %s  %d %s", time.Now().Format("15:04:05"), termsafe.Text(rep.r.Method), termsafe.Text(rep.r.URL.Path), rep.status, rep.outcome)
	if d.event != nil {
		fmt.Fprintf(&b, "  %s", termsafe.Text(string(d.event.Name)))
	}
	fmt.Fprintf(&b, "  (%s)\n", rep.elapsed.Round(10*time.Microsecond))
	if d.event != nil {
		writeEventFields(&b, d.event, "    ")
	}
	if d.forward != nil {
		fmt.Fprintf(&b, "    forwarded to %s: %s (%s)\n", d.forward.url, d.forward.describe(), d.forward.elapsed.Round(10*time.Microsecond))
	}
	if rep.errText != "" {
		fmt.Fprintf(&b, "    error: %s\n", termsafe.Text(rep.errText))
	}
	if d.saved != "" {
		fmt.Fprintf(&b, "    saved: %s.headers, %s.body\n", d.saved, d.saved)
	}
	if d.saveErr != nil {
		fmt.Fprintf(&b, "    not saved: %s\n", termsafe.Text(d.saveErr.Error()))
	}
	if rep.hint != "" {
		fmt.Fprintf(&b, "    why:   %s\n", termsafe.Text(rep.hint))
	}
	b.WriteByte('\n')
	return b.Bytes()
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
	if acknowledged(status) {
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
	req.Header = signatureHeaders(h, "pcwebhook-listen/"+pcwebhook.Version)
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
