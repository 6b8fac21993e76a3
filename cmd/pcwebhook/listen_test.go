package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

func TestTriggerListenRoundTrip(t *testing.T) {
	e := testEnv(nil)
	l := startListen(t, e, "--dev")
	assert.Contains(t, l.stdout.String(), "verifying with the development CA in "+filepath.Join(sharedConfigDir, "dev"))
	assert.Contains(t, l.stdout.String(), "send one with: pcwebhook trigger subscription-updated --url "+l.url)

	code, stdout, stderr := runIn(t, e, "trigger", "subscription-updated", "--url", l.url, "--count", "3")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 3, strings.Count(stdout, "subscription-updated  -> 200 OK  \"ok\""), stdout)
	code, stdout, stderr = runIn(t, e, "trigger", "Granular-Admin-Access-Assignment-Created", "--url", l.url, "--ms-signature-header")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "granular-admin-access-assignment-created  -> 200 OK")
	code, _, stderr = runIn(t, e, "trigger", "fail-transfer", "--url", l.url)
	require.Equal(t, 0, code, stderr)
	code, _, stderr = runIn(t, e, "trigger", "billing-profile-updated", "--url", l.url, "--allow-unknown")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, `warning: "billing-profile-updated" is not an event name pcwebhook`)

	out := waitFor(t, l.stdout, regexp.MustCompile(`POST / +200 handled`), 6)
	assert.Equal(t, 3, strings.Count(out, "200 handled  subscription-updated"), "each of the 3 is a distinct event:\n%s", out)
	assert.Equal(t, 3, strings.Count(out, "    type                   pcwebhook.SubscriptionEvent\n"+
		"    CustomerID             a235e100-04c9-54b8-b9b6-6cb3500ccc5a\n"+
		"    SubscriptionID         cb9a54ce-b00e-5491-b23d-a456f44f2858\n"), out)
	assert.Contains(t, out, "200 handled  granular-admin-access-assignment-created")
	assert.Contains(t, out, "    RelationshipID         aa88144b-0501-5e27-bf8a-0c3e94326a25\n"+
		"    AssignmentID           62c6c0d5-682e-5188-963e-a0519821f0fe\n")
	assert.Contains(t, out, "200 handled  transfer-failed")
	assert.Contains(t, out, "    TransferID             7d166166-9198-5374-8a5d-61e0161800e2\n")
	assert.Contains(t, out, "200 handled  billing-profile-updated")
	assert.Contains(t, out, "pcwebhook.Event (an event name this version does not know: OnUnknown receives it)")
	assert.Regexp(t, `ResourceChangeUtcDate  20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z`, out)

	assert.Equal(t, 0, l.stop(t))
	assert.Contains(t, l.stdout.String(), "Stopped.")
	assert.Empty(t, l.stderr.String())
}

func TestListenJSON(t *testing.T) {
	e := testEnv(nil)
	l := startListen(t, e, "--dev", "--json")
	assert.Empty(t, l.stdout.String(), "banner on stderr with --json")
	assert.Contains(t, l.stderr.String(), "Listening on "+l.url)

	code, _, stderr := runIn(t, e, "trigger", "invoice-ready", "--url", l.url, "--count", "2")
	require.Equal(t, 0, code, stderr)
	out := waitFor(t, l.stdout, regexp.MustCompile(`(?m)^\{.*\}$`), 2)

	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		lines = append(lines, m)
	}
	require.Len(t, lines, 2)
	for _, m := range lines {
		assert.Equal(t, "POST", m["method"])
		assert.Equal(t, "/", m["path"])
		assert.EqualValues(t, 200, m["status"])
		assert.Equal(t, "handled", m["outcome"])
		assert.Equal(t, "invoice-ready", m["event"])
		assert.Equal(t, true, m["known"])
		assert.Equal(t, "InvoiceEvent", m["type"])
		assert.Equal(t, map[string]any{"InvoiceID": "409b9e19-312a-5d25-93be-78fd53886b95"}, m["ids"])
		assert.Equal(t, "invoice", m["resourceName"])
		body, ok := m["body"].(map[string]any)
		require.True(t, ok, "the body is embedded as JSON")
		assert.Equal(t, "invoice-ready", body["EventName"])
		assert.NotContains(t, m, "error")
	}
	assert.NotEqual(t, lines[0]["resourceChangeUtcDate"], lines[1]["resourceChangeUtcDate"])
}

// recordingApp is a local application that --forward posts to.
type recordingApp struct {
	mu      sync.Mutex
	status  int
	bodies  [][]byte
	headers []http.Header
}

func (a *recordingApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bodies = append(a.bodies, body)
	a.headers = append(a.headers, r.Header.Clone())
	w.WriteHeader(a.status)
}

func (a *recordingApp) setStatus(s int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status = s
}

func (a *recordingApp) received() ([][]byte, []http.Header) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([][]byte(nil), a.bodies...), append([]http.Header(nil), a.headers...)
}

func TestListenForward(t *testing.T) {
	appHandler := &recordingApp{status: http.StatusNoContent}
	app := httptest.NewServer(appHandler)
	defer app.Close()
	e := testEnv(nil)
	l := startListen(t, e, "--dev", "--forward", app.URL+"/hooks")
	assert.Contains(t, l.stdout.String(), "forwarding verified events to "+app.URL+"/hooks")

	// One signed delivery, posted the way trigger does, so that it can be sent again.
	ca, err := loadDevCA(filepath.Join(sharedConfigDir, "dev"))
	require.NoError(t, err)
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventCreateTransfer, time.Now())
	send := func() int {
		status, _, _, err := post(context.Background(), http.DefaultClient, ca, l.url, body, false)
		require.NoError(t, err)
		return status
	}

	assert.Equal(t, http.StatusOK, send())
	bodies, headers := appHandler.received()
	require.Len(t, bodies, 1)
	assert.Equal(t, body, bodies[0], "the exact bytes")
	signed, err := ca.sign(body, false)
	require.NoError(t, err)
	for _, k := range []string{"Authorization", "X-Ms-Certificate-Url", "X-Ms-Signature-Algorithm", "Content-Type"} {
		assert.Equal(t, signed.Get(k), headers[0].Get(k), k)
	}
	out := waitFor(t, l.stdout, regexp.MustCompile(`forwarded to `), 1)
	assert.Contains(t, out, "200 handled  create-transfer")
	assert.Contains(t, out, "    forwarded to "+app.URL+"/hooks: 204 No Content (")

	// The application refuses the signature: the line says what the app answered and what a 4xx
	// means, not that a callback failed.
	body = pcwebhooktest.SampleEventAt(pcwebhook.EventCreateTransfer, time.Now().Add(time.Second))
	appHandler.setStatus(http.StatusUnauthorized)
	assert.Equal(t, http.StatusInternalServerError, send())
	out = waitFor(t, l.stdout, regexp.MustCompile(`500 app-answered-401`), 1)
	assert.NotContains(t, out, "callback-error")
	assert.Contains(t, out, "    forwarded to "+app.URL+"/hooks: 401 Unauthorized (")
	assert.Contains(t, out, "    error: forwarding to "+app.URL+"/hooks: the app answered 401 Unauthorized: refused, Partner Center does not retry: "+
		"this event would be lost. The app refused the signature: does its Verifier trust the development CA (pcwebhookdev.NewVerifier")

	// The application fails: the Handler answers 500 so that Partner Center retries ...
	appHandler.setStatus(http.StatusBadGateway)
	assert.Equal(t, http.StatusInternalServerError, send())
	out = waitFor(t, l.stdout, regexp.MustCompile(`500 app-answered-502`), 1)
	assert.Contains(t, out, "    forwarded to "+app.URL+"/hooks: 502 Bad Gateway (")
	assert.Contains(t, out, "    error: forwarding to "+app.URL+"/hooks: the app answered 502 Bad Gateway: failed, Partner Center retries")

	// ... and the retry, with the identical body, is handled again once the application is back.
	appHandler.setStatus(http.StatusOK)
	assert.Equal(t, http.StatusOK, send())
	waitFor(t, l.stdout, regexp.MustCompile(`200 handled  create-transfer`), 2)
	bodies, _ = appHandler.received()
	assert.Len(t, bodies, 4)

	// A delivery already handled is acknowledged without forwarding it again.
	assert.Equal(t, http.StatusOK, send())
	waitFor(t, l.stdout, regexp.MustCompile(`200 duplicate-acknowledged  create-transfer`), 1)
	bodies, _ = appHandler.received()
	assert.Len(t, bodies, 4)
}

func TestListenForwardUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String() + "/"
	ln.Close()
	e := testEnv(nil)
	l := startListen(t, e, "--dev", "--forward", dead, "--json")
	code, stdout, _ := runIn(t, e, "trigger", "subscription-updated", "--url", l.url)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "-> 500 Internal Server Error")
	out := waitFor(t, l.stdout, regexp.MustCompile(`app-unreachable`), 1)
	var m struct {
		Status  int
		Outcome string
		Forward struct{ URL, Meaning, Error string }
		Error   string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	assert.Equal(t, 500, m.Status)
	assert.Equal(t, "app-unreachable", m.Outcome)
	assert.Equal(t, dead, m.Forward.URL)
	assert.Equal(t, "the app could not be reached: is it running, at this URL? (failed, Partner Center retries)", m.Forward.Meaning)
	assert.Contains(t, m.Forward.Error, "forwarding to "+dead)
	assert.Contains(t, m.Error, "connection refused")
}

func TestListenRefusals(t *testing.T) {
	e := testEnv(nil)
	save := t.TempDir()
	l := startListen(t, e, "--dev", "--path", "/hook", "--save", save)
	ca, err := loadDevCA(filepath.Join(sharedConfigDir, "dev"))
	require.NoError(t, err)

	// A body changed after signing.
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventInvoiceReady, time.Now())
	header, err := ca.sign(body, false)
	require.NoError(t, err)
	tampered := bytes.Replace(body, []byte("invoice"), []byte("Invoice"), 1)
	req, err := http.NewRequest(http.MethodPost, l.url, bytes.NewReader(tampered))
	require.NoError(t, err)
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	out := waitFor(t, l.stdout, regexp.MustCompile(`401 verification-failed`), 1)
	assert.Contains(t, out, "    error: pcwebhook: bad signature: signature: signature does not match the body")
	assert.Contains(t, out, "    why:   the signature does not match the body: the body bytes differ from what was signed")
	assert.NotContains(t, out, "pcwebhook.InvoiceEvent", "an unverified body is not shown as an event")

	// The refused request was saved as it arrived, and verify finds the same failure.
	m := regexp.MustCompile(`saved: (\S+)\.headers`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	saved, err := os.ReadFile(m[1] + ".body")
	require.NoError(t, err)
	assert.Equal(t, tampered, saved)
	code, vout, _ := runIn(t, e, "verify", "--dev", "--headers", m[1]+".headers", "--body", m[1]+".body")
	assert.Equal(t, 1, code)
	assert.Contains(t, vout, `FAILED at the "signature" check`)
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(m[1] + ".headers")
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}

	// Another path, and another method.
	resp, err = http.Post(strings.TrimSuffix(l.url, "/hook")+"/other", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, err = http.Get(l.url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	out = waitFor(t, l.stdout, regexp.MustCompile(`GET /hook +405 method-not-allowed`), 1)
	assert.Contains(t, out, "POST /other  404 wrong-path")
	assert.Contains(t, out, "    error: listening on /hook only (--path)")
}

func TestListenProductionRefusesDevelopmentDeliveries(t *testing.T) {
	e := testEnv(nil)
	l := startListen(t, e) // production policy: nothing is downloaded for a URL off the allow-list
	assert.Contains(t, l.stdout.String(), "verifying with the production policy: Partner Center's certificate from https://3psostorageacct.blob.core.windows.net/cert/")
	code, stdout, stderr := runIn(t, e, "trigger", "subscription-updated", "--url", l.url)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "-> 401 Unauthorized  \"unauthorized\"")
	assert.Contains(t, stderr, "the receiver refused the signature")
	out := waitFor(t, l.stdout, regexp.MustCompile(`401 verification-failed`), 1)
	assert.Contains(t, out, "    why:   certificate URL host pcwebhook-dev.invalid is not on the allow-list")
}

func TestListenAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	code, _, stderr := runIn(t, testEnv(nil), "listen", "--dev", "--addr", ln.Addr().String())
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "address already in use")
}

func TestTriggerNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	code, stdout, stderr := runIn(t, testEnv(nil), "trigger", "subscription-updated", "--url", "http://"+addr+"/", "--count", "5")
	assert.Equal(t, 1, code)
	assert.Equal(t, 1, strings.Count(stdout, "-> failed:"), "stops at the first refused connection")
	assert.Contains(t, stderr, "nothing listens at "+addr)
}

func TestDevCACreatedOnceAndKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config")
	e := testEnv(map[string]string{configDirEnv: dir})
	l := startListen(t, e, "--dev")
	assert.Contains(t, l.stdout.String(), "Created the development CA in "+filepath.Join(dir, "dev"))

	code, stdout, stderr := runIn(t, e, "trigger", "invoice-ready", "--url", l.url)
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, stdout, "Created", "trigger uses the CA listen created")

	ca, err := loadDevCA(filepath.Join(dir, "dev"))
	require.NoError(t, err)
	assert.Equal(t, []string{pcwebhook.RequiredOrganization}, ca.leaf.Subject.Organization)
	assert.Equal(t, 2048, ca.key.N.BitLen())
	assert.False(t, ca.leaf.IsCA)
	assert.True(t, ca.root.IsCA)
	if runtime.GOOS != "windows" {
		for _, name := range []string{"", devRootFile, devLeafFile, devKeyFile} {
			fi, err := os.Stat(filepath.Join(dir, "dev", name))
			require.NoError(t, err)
			want := os.FileMode(0o600)
			if name == "" {
				want = 0o700 | os.ModeDir
			}
			assert.Equal(t, want, fi.Mode()&(os.ModeDir|os.ModePerm), name)
		}
	}

	// --config-dir beats the environment; a new directory gets a new CA, which the running
	// listener does not trust.
	other := t.TempDir()
	code, stdout, _ = runIn(t, e, "trigger", "invoice-ready", "--url", l.url, "--config-dir", other)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "Created the development CA in "+filepath.Join(other, "dev"))
	assert.Contains(t, stdout, "-> 401 Unauthorized")
	entries, err := os.ReadDir(other)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary directory left behind")
}

func TestDevCAConcurrentCreation(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	cas := make([]*devCA, 3)
	errs := make([]error, 3)
	for i := range cas {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cas[i], _, errs[i] = ensureDevCA(dir, time.Now())
		}(i)
	}
	wg.Wait()
	for i := range cas {
		require.NoError(t, errs[i])
		assert.True(t, cas[i].leaf.Equal(cas[0].leaf), "every process ends up with the same CA")
	}
}

func TestDevCABroken(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "dev"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dev", devRootFile), []byte("not PEM"), 0o600))
	code, _, stderr := runIn(t, testEnv(map[string]string{configDirEnv: dir}), "trigger", "invoice-ready", "--url", "http://127.0.0.1:1/")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "the development CA in "+filepath.Join(dir, "dev")+" is unusable: root-ca.pem holds no CERTIFICATE PEM block; delete the directory")

	_, _, err := ensureDevCA(sharedConfigDir, time.Now().AddDate(50, 0, 0))
	assert.ErrorContains(t, err, "not now: delete that directory and run again")
}

// hostile is text a sender chooses to take over the terminal that prints it: it clears the
// screen, homes the cursor, starts a line of its own that looks like a handled delivery, and adds
// DEL, a C1 CSI (as UTF-8 and as a raw byte) and NUL.
const hostile = "\x1b[2J\x1b[H\r\n12:00:00  POST /  200 handled  subscription-updated\x1b[K\x7f\u009b2J\x9b2J\x00"

// hostilePath is hostile percent-encoded, as a request path: the server decodes it.
const hostilePath = "/%1b[2J%1b[H%0d%0a12:00:00%20%20POST%20/%20%20200%20handled%20%20subscription-updated%1b[K%7f%c2%9b2J%9b2J%00"

// hostileHeader is what an HTTP server lets through in a header value: tab and bytes from 0x80.
const hostileHeader = "rsa-sha256\t\u009b2J\x9b2J\u0085"

// sendHostile posts to the listener at base: a signed delivery on a hostile path, a signed event
// whose name, ResourceUri and AuditUri are hostile, and a signed delivery with a hostile
// signature algorithm header. It returns how many requests it made.
func sendHostile(t *testing.T, base string) int {
	t.Helper()
	ca, err := loadDevCA(filepath.Join(sharedConfigDir, "dev"))
	require.NoError(t, err)
	send := func(target string, body []byte, edit func(http.Header)) int {
		header, err := ca.sign(body, false)
		require.NoError(t, err)
		if edit != nil {
			edit(header)
		}
		req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	root := strings.TrimSuffix(base, "/")
	assert.Equal(t, http.StatusOK, send(root+hostilePath, pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body(), nil))
	evil := pcwebhooktest.EventSpec{Name: pcwebhook.EventName("x" + hostile), ResourceURI: "https://api.partnercenter.microsoft.com/" + hostile, AuditURI: hostile}.Body()
	assert.Equal(t, http.StatusOK, send(base, evil, nil))
	assert.Equal(t, http.StatusUnauthorized, send(base, pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body(), func(h http.Header) {
		h.Set(pcwebhook.HeaderSignatureAlgorithm, hostileHeader)
	}))
	return 3
}

// TestListenEscapesSenderText: what a sender chooses (the path, the event's fields, its headers)
// is printed escaped, so it can neither act on the terminal nor forge a line.
func TestListenEscapesSenderText(t *testing.T) {
	e := testEnv(nil)
	l := startListen(t, e, "--dev")
	banner := l.stdout.String()
	n := sendHostile(t, l.url)
	out := waitFor(t, l.stdout, regexp.MustCompile(`401 verification-failed`), 1)[len(banner):]

	assertTerminalSafe(t, out)
	heading := regexp.MustCompile(`^\d\d:\d\d:\d\d  POST /`)
	headings := 0
	for _, line := range strings.Split(out, "\n") {
		switch {
		case heading.MatchString(line):
			headings++
		case line == "" || strings.HasPrefix(line, "    "):
		default:
			t.Errorf("a line the listener did not write: %q", line)
		}
	}
	assert.Equal(t, n, headings, "one heading line per request:\n%s", out)

	escaped := `\x1b[2J\x1b[H\r\n12:00:00  POST /  200 handled  subscription-updated\x1b[K\x7f\u009b2J\x9b2J\x00`
	assert.Contains(t, out, "  POST /"+escaped+"  200 handled  invoice-ready  (")
	// In the JSON body the invalid byte became U+FFFD, which is printable.
	escaped = strings.Replace(escaped, `\x9b`, "\ufffd", 1)
	assert.Contains(t, out, "  POST /  200 handled  x"+escaped+"  (")
	assert.Contains(t, out, "    ResourceUri            https://api.partnercenter.microsoft.com/"+escaped+"\n")
	assert.Contains(t, out, "    AuditUri               "+escaped+"\n")
	assert.Contains(t, out, "  POST /  401 verification-failed  (")
}

// TestListenJSONEscapesSenderText: with --json the same requests give one JSON line each, with
// the sender's text intact for a JSON reader and escaped for the terminal.
func TestListenJSONEscapesSenderText(t *testing.T) {
	e := testEnv(nil)
	l := startListen(t, e, "--dev", "--json")
	n := sendHostile(t, l.url)
	out := waitFor(t, l.stdout, regexp.MustCompile(`verification-failed`), 1)

	assertTerminalSafe(t, out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, n, out)
	var first, second struct {
		Path        string
		Event       string
		ResourceURI string `json:"resourceUri"`
		Body        struct{ EventName string }
	}
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &second))
	valid := strings.ToValidUTF8(hostile, "\ufffd") // as encoding/json writes an invalid byte
	assert.Equal(t, valid, first.Path[1:], "the path as decoded")
	assert.Equal(t, "x"+valid, second.Event)
	assert.Equal(t, second.Event, second.Body.EventName, "the embedded body")
	assert.Contains(t, second.ResourceURI, "\u009b2J")
}
