package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// writeCapture saves a delivery as verify reads it: a request line and CRLF header lines, and the
// body bytes.
func writeCapture(t *testing.T, header http.Header, body []byte) (headersFile, bodyFile string) {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("POST /webhooks HTTP/1.1\r\n")
	keys := make([]string, 0, len(header))
	for k := range header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range header[k] {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	headersFile, bodyFile = filepath.Join(dir, "h.txt"), filepath.Join(dir, "body.json")
	require.NoError(t, os.WriteFile(headersFile, []byte(b.String()), 0o600))
	require.NoError(t, os.WriteFile(bodyFile, body, 0o600))
	return headersFile, bodyFile
}

// devDelivery signs body with the shared development CA.
func devDelivery(t *testing.T, body []byte) http.Header {
	t.Helper()
	ca, err := loadDevCA(filepath.Join(sharedConfigDir, "dev"))
	require.NoError(t, err)
	h, err := ca.sign(body, false)
	require.NoError(t, err)
	return h
}

// verifyCapture runs verify on a capture and returns the status and the output.
func verifyCapture(t *testing.T, e env, header http.Header, body []byte, args ...string) (int, string, string) {
	t.Helper()
	hf, bf := writeCapture(t, header, body)
	return runIn(t, e, append([]string{"verify", "--headers", hf, "--body", bf}, args...)...)
}

func TestVerifySuccess(t *testing.T) {
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventSubscriptionUpdated, time.Now())
	code, stdout, stderr := verifyCapture(t, testEnv(nil), devDelivery(t, body), body, "--dev")
	require.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, `(skipped the first line "POST /webhooks HTTP/1.1")`)
	assert.Regexp(t, `Authorization: +Signature \S+\.\.\.\S+ \(354 characters\)`, stdout)
	assert.Contains(t, stdout, "X-Ms-Certificate-Url:     "+devCertURL)
	assert.Contains(t, stdout, "Verifying with the development CA in "+filepath.Join(sharedConfigDir, "dev"))
	assert.Contains(t, stdout, "OK: the signature is valid, and the certificate is trusted: this delivery is genuine.")
	assert.Contains(t, stdout, "Event subscription-updated\n  type                   pcwebhook.SubscriptionEvent\n"+
		"  CustomerID             a235e100-04c9-54b8-b9b6-6cb3500ccc5a\n")

	// The x-ms-signature form, without the request line.
	ca, err := loadDevCA(filepath.Join(sharedConfigDir, "dev"))
	require.NoError(t, err)
	h, err := ca.sign(body, true)
	require.NoError(t, err)
	code, stdout, _ = verifyCapture(t, testEnv(nil), h, body, "--dev")
	assert.Equal(t, 0, code, stdout)
}

func TestVerifyBodyDiagnoses(t *testing.T) {
	compact := pcwebhooktest.SampleEventAt(pcwebhook.EventInvoiceReady, time.Now())
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, compact, "", "  "))
	crlf := bytes.ReplaceAll(pretty.Bytes(), []byte("\n"), []byte("\r\n"))

	for _, tc := range []struct {
		name         string
		signed, sent []byte
		want         string
	}{
		{"changed", compact, bytes.Replace(compact, []byte("invoice"), []byte("Invoice"), 1),
			"The signature covers the exact bytes Partner Center sent. Common causes: the JSON was re-serialized"},
		{"trailing newline added", compact, append(bytes.Clone(compact), '\n'),
			"Found it: the body verifies once its trailing newline is removed."},
		{"trailing newline lost", append(bytes.Clone(compact), '\n'), compact,
			"Found it: the body verifies with a trailing newline added."},
		{"line endings", pretty.Bytes(), crlf,
			"Found it: the body verifies with CRLF line endings turned into LF."},
		{"line endings the other way", crlf, pretty.Bytes(),
			"Found it: the body verifies with LF line endings turned into CRLF."},
		{"pretty-printed", compact, pretty.Bytes(),
			"Found it: the body verifies as compact JSON."},
		{"byte order mark", compact, append([]byte("\xef\xbb\xbf"), compact...),
			"Found it: the body verifies without its UTF-8 byte order mark."},
	} {
		code, stdout, _ := verifyCapture(t, testEnv(nil), devDelivery(t, tc.signed), tc.sent, "--dev")
		assert.Equal(t, 1, code, tc.name)
		assert.Contains(t, stdout, `FAILED at the "signature" check: pcwebhook: bad signature`, tc.name)
		assert.Contains(t, stdout, "The signature does not match the body: the body bytes differ from what was signed.", tc.name)
		assert.Contains(t, oneLine(stdout), tc.want, tc.name)
	}

	code, stdout, _ := verifyCapture(t, testEnv(nil), devDelivery(t, compact), []byte("{}"), "--dev")
	assert.Equal(t, 1, code)
	assert.Contains(t, oneLine(stdout), "or the delivery was signed by another development CA")
}

// oneLine joins wrapped output, so that assertions do not depend on where lines break.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestVerifyHeaderDiagnoses(t *testing.T) {
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventReferralCreated, time.Now())
	for _, tc := range []struct {
		name   string
		mutate func(h http.Header)
		step   string
		want   []string
	}{
		{"no signature", func(h http.Header) { h.Del("Authorization") }, "signature-header", []string{
			"There is no usable signature (no Authorization Signature or x-ms-signature header).",
			"headers were stripped or rewritten on the way (a reverse proxy, an API gateway",
			"register with --ms-signature-header",
		}},
		{"authorization replaced", func(h http.Header) { h.Set("Authorization", "Bearer eyJ0eXAi") }, "signature-header", []string{
			`The Authorization header carries a "Bearer" credential, not Partner Center's "Signature <base64>".`,
			"an API gateway or an authentication middleware",
		}},
		{"two signatures", func(h http.Header) { h.Add("Authorization", h.Get("Authorization")) }, "signature-header", []string{
			"(more than one Authorization header)", "a proxy added one",
		}},
		{"no certificate URL", func(h http.Header) { h.Del("X-Ms-Certificate-Url") }, "certificate-url", []string{
			"The X-MS-Certificate-Url header is missing or unusable (no X-MS-Certificate-Url header).",
			"capture the request as the application receives it",
		}},
		{"no algorithm", func(h http.Header) { h.Del("X-Ms-Signature-Algorithm") }, "algorithm", []string{
			"The X-MS-Signature-Algorithm header is missing or repeated (no X-MS-Signature-Algorithm header).",
		}},
		{"other algorithm", func(h http.Header) { h.Set("X-Ms-Signature-Algorithm", "rsa-sha1") }, "algorithm", []string{
			`X-MS-Signature-Algorithm is "rsa-sha1", and only rsa-sha256 is accepted.`,
			"There is deliberately no fallback",
		}},
		{"malformed signature", func(h http.Header) { h.Set("Authorization", "Signature not*base64") }, "signature-format", []string{
			"The signature is malformed (signature is not valid base64).",
			"wrapped over several lines",
		}},
		{"truncated signature", func(h http.Header) { h.Set("Authorization", h.Get("Authorization")[:100]) }, "signature-format", []string{
			"The signature is malformed (signature length does not match the key size).",
		}},
		{"foreign host", func(h http.Header) { h.Set("X-Ms-Certificate-Url", "https://evil.example/cert/x.cer") }, "certificate-url", []string{
			"Certificate URL host evil.example is not on the allow-list.",
			"With --dev only the development URL https://pcwebhook-dev.invalid/cert/dev.cer is allowed",
		}},
		{"dot segments", func(h http.Header) { h.Set("X-Ms-Certificate-Url", devCertURLPrefix+"../dev.cer") }, "certificate-url", []string{
			`The certificate URL "https://pcwebhook-dev.invalid/cert/../dev.cer" is not acceptable: dot segment in path.`,
			"this one was altered or forged. It was not downloaded.",
		}},
	} {
		h := devDelivery(t, body)
		tc.mutate(h)
		code, stdout, _ := verifyCapture(t, testEnv(nil), h, body, "--dev")
		assert.Equal(t, 1, code, tc.name)
		assert.Contains(t, stdout, `FAILED at the "`+tc.step+`" check`, tc.name)
		for _, w := range tc.want {
			assert.Contains(t, oneLine(stdout), w, tc.name)
		}
	}
}

func TestVerifyDevelopmentDeliveryWithoutDev(t *testing.T) {
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventReferralCreated, time.Now())
	code, stdout, _ := verifyCapture(t, testEnv(nil), devDelivery(t, body), body)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "Verifying with the production policy")
	assert.Contains(t, oneLine(stdout), "Certificate URL host pcwebhook-dev.invalid is not on the allow-list.")
	assert.Contains(t, oneLine(stdout), `This is a development delivery, signed by "pcwebhook trigger": verify it with --dev.`)
}

func TestVerifyExpiredAt(t *testing.T) {
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventReferralCreated, time.Now())
	h := devDelivery(t, body)
	// Far after the development certificate (made from the real clock) expires, on any day.
	at := time.Now().UTC().AddDate(100, 0, 0).Truncate(time.Second).Format(time.RFC3339)
	code, stdout, _ := verifyCapture(t, testEnv(nil), h, body, "--dev", "--at", at)
	assert.Equal(t, 1, code)
	out := oneLine(stdout)
	assert.Contains(t, out, ", at "+at)
	assert.Contains(t, out, `FAILED at the "certificate-time" check`)
	assert.Contains(t, out, "The signing certificate is expired or not yet valid at the verifier's time "+
		"(x509: certificate has expired or is not yet valid: current time "+at+" is after")
	assert.Contains(t, out, "The verifier's time is "+at+" (from --at).")
	assert.Regexp(t, `The development certificate is valid from \S+Z to \S+Z\.`, out)
	assert.Contains(t, out, "verify it at the time it was received, for example --at")

	code, stdout, _ = verifyCapture(t, testEnv(nil), h, body, "--dev", "--at", time.Now().Add(time.Hour).Format(time.RFC3339))
	assert.Equal(t, 0, code, stdout)
}

func TestVerifyWithASender(t *testing.T) {
	sender, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	defer sender.Close()
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventTransferFailed, time.Now())
	h := sender.Sign(body)
	host := strings.TrimPrefix(sender.URL(), "https://")
	e := testEnv(nil)
	e.downloads = sender.Client() // trusts the sender's TLS server

	// The production policy does not allow the sender's host: never downloaded.
	code, stdout, _ := verifyCapture(t, e, h, body)
	assert.Equal(t, 1, code)
	out := oneLine(stdout)
	assert.Contains(t, out, "Certificate URL host "+host+" is not on the allow-list.")
	assert.Contains(t, out, "the allow-list is https://3psostorageacct.blob.core.windows.net/cert/.")
	assert.Contains(t, out, "The request names this host itself, so the host proves nothing")
	assert.Contains(t, out, "only with an https prefix that Microsoft documents for your cloud, never with one taken from a request")
	assert.NotContains(t, out, "--allow-cert-url https://", "no copy-paste allow command for a host the request names")
	assert.Contains(t, out, "If you do not recognize the host, the request is forged.")
	assert.Zero(t, sender.Downloads())

	// Allowed, downloaded, but the leaf's issuer may not be downloaded from the sender.
	code, stdout, _ = verifyCapture(t, e, h, body, "--allow-cert-url", sender.CertificateURLPrefix())
	assert.Equal(t, 1, code)
	out = oneLine(stdout)
	assert.Contains(t, out, `FAILED at the "issuer-download" check`)
	assert.Contains(t, out, "The certificate's issuer is missing, and it may not be downloaded")
	assert.Contains(t, out, "add it with --allow-issuer-url")

	// Issuer downloaded too: the chain ends at the sender's root, which this machine does not trust.
	code, stdout, _ = verifyCapture(t, e, h, body, "--allow-cert-url", sender.CertificateURLPrefix(),
		"--allow-issuer-url", sender.IssuerURLPrefix())
	assert.Equal(t, 1, code)
	out = oneLine(stdout)
	assert.Contains(t, out, "The signing certificate does not chain to a root this machine trusts")
	assert.Contains(t, out, "install the system CA bundle (the ca-certificates package")
	assert.Contains(t, out, "A delivery signed by a test sender (pcwebhooktest) or by anyone else does not chain to them")
	assert.NotZero(t, sender.IssuerDownloads())

	// The certificate cannot be downloaded: the sender is gone.
	sender.Close()
	code, stdout, _ = verifyCapture(t, e, h, body, "--allow-cert-url", sender.CertificateURLPrefix())
	assert.Equal(t, 1, code)
	out = oneLine(stdout)
	assert.Contains(t, out, `FAILED at the "download" check`)
	assert.Contains(t, out, "Could not download the certificate from "+host+" (request failed:")
	assert.Contains(t, out, "a Handler answers 503 and Partner Center retries later")
	assert.Contains(t, out, "Let this host reach "+host+" over HTTPS: DNS, outbound firewall rules, the HTTPS proxy (HTTPS_PROXY)")
}

// certificateServer serves a certificate file over TLS at /cert/x.cer, for verify to download.
func certificateServer(t *testing.T, file []byte) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cert/x.cer" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(file)
	}))
	t.Cleanup(srv.Close)
	return srv, srv.URL + "/cert/x.cer"
}

// selfMadeChain returns a self-signed root and a leaf with the given Organization, in PEM, and
// the leaf's key.
func selfMadeChain(t *testing.T, org string) ([]byte, *rsa.PrivateKey) {
	t.Helper()
	leafKey, err := testpki.NewKey()
	require.NoError(t, err)
	return selfMadeChainFor(t, org, &leafKey.PublicKey), leafKey
}

// selfMadeChainFor is selfMadeChain for a given leaf public key.
func selfMadeChainFor(t *testing.T, org string, leafPub any) []byte {
	t.Helper()
	rootKey, err := testpki.NewKey()
	require.NoError(t, err)
	now := time.Now()
	root, err := testpki.Issue(testpki.Template{CommonName: "Contoso Root", IsCA: true, KeyUsage: x509.KeyUsageCertSign,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, &rootKey.PublicKey, nil, rootKey)
	require.NoError(t, err)
	leaf, err := testpki.Issue(testpki.Template{CommonName: "leaf", Organization: []string{org},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, leafPub, root, rootKey)
	require.NoError(t, err)
	return testpki.PEM(leaf, root)
}

// signWith signs body the way Partner Center does, naming certURL.
func signWith(t *testing.T, key *rsa.PrivateKey, certURL string, body []byte) http.Header {
	t.Helper()
	h, err := testpki.Signer{Key: key, CertificateURL: certURL}.Sign(body)
	require.NoError(t, err)
	return h
}

func TestVerifyCertificateDiagnoses(t *testing.T) {
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventCreateTransfer, time.Now())

	// A self-made chain whose root comes with the file: not a trusted root.
	file, key := selfMadeChain(t, pcwebhook.RequiredOrganization)
	srv, certURL := certificateServer(t, file)
	e := testEnv(nil)
	e.downloads = srv.Client()
	code, stdout, _ := verifyCapture(t, e, signWith(t, key, certURL, body), body, "--allow-cert-url", srv.URL+"/cert/")
	assert.Equal(t, 1, code)
	out := oneLine(stdout)
	assert.Contains(t, out, `FAILED at the "certificate-chain" check`)
	assert.Contains(t, out, "The signing certificate does not chain to a root this machine trusts (x509: certificate signed by unknown authority")

	// Someone else's certificate.
	file, key = selfMadeChain(t, "Contoso Ltd")
	srv, certURL = certificateServer(t, file)
	e.downloads = srv.Client()
	code, stdout, _ = verifyCapture(t, e, signWith(t, key, certURL, body), body, "--allow-cert-url", srv.URL+"/cert/")
	assert.Equal(t, 1, code)
	out = oneLine(stdout)
	assert.Contains(t, out, `FAILED at the "organization" check`)
	assert.Contains(t, out, `The signing certificate is not Microsoft's: its Subject Organization is not exactly "Microsoft Corporation".`)
	assert.Contains(t, out, "it is forged")

	// Not an RSA key.
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srv, certURL = certificateServer(t, selfMadeChainFor(t, pcwebhook.RequiredOrganization, &ecKey.PublicKey))
	e.downloads = srv.Client()
	code, stdout, _ = verifyCapture(t, e, signWith(t, key, certURL, body), body, "--allow-cert-url", srv.URL+"/cert/")
	assert.Equal(t, 1, code)
	out = oneLine(stdout)
	assert.Contains(t, out, `FAILED at the "public-key" check`)
	assert.Contains(t, out, "The signing certificate is not usable: leaf key is not RSA.")
	assert.Contains(t, out, "This is not Partner Center's certificate.")

	// Not a certificate at all.
	srv, certURL = certificateServer(t, []byte("<html>Sign in to the Wi-Fi</html>"))
	e.downloads = srv.Client()
	code, stdout, _ = verifyCapture(t, e, signWith(t, key, certURL, body), body, "--allow-cert-url", srv.URL+"/cert/")
	assert.Equal(t, 1, code)
	out = oneLine(stdout)
	assert.Contains(t, out, `FAILED at the "certificate-parse" check`)
	assert.Contains(t, out, "The certificate URL did not serve a certificate")
	assert.Contains(t, out, "a captive portal")
}

func TestVerifyValidSignatureBadEvent(t *testing.T) {
	body := []byte(`{"ResourceName":"x"}`)
	code, stdout, _ := verifyCapture(t, testEnv(nil), devDelivery(t, body), body, "--dev")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "The signature is valid, but the body is not a usable event: pcwebhook: malformed event: EventName is missing or null")
}

func TestVerifyInputErrors(t *testing.T) {
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventCreateTransfer, time.Now())
	hf, bf := writeCapture(t, devDelivery(t, body), body)
	dir := t.TempDir()

	code, _, stderr := runIn(t, testEnv(nil), "verify", "--headers", filepath.Join(dir, "missing"), "--body", bf)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--headers: open ")

	code, _, stderr = runIn(t, testEnv(nil), "verify", "--headers", hf, "--body", filepath.Join(dir, "missing"))
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--body: open ")

	garbage := filepath.Join(dir, "garbage")
	require.NoError(t, os.WriteFile(garbage, []byte("Authorization Signature abc\n"), 0o600))
	code, _, stderr = runIn(t, testEnv(nil), "verify", "--headers", garbage, "--body", bf)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `line 1 is not a "Name: value" header`)

	big := filepath.Join(dir, "big")
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte("x"), pcwebhook.DefaultMaxBodyBytes+1), 0o600))
	code, _, stderr = runIn(t, testEnv(nil), "verify", "--headers", hf, "--body", big)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "is larger than 65536 bytes")

	// A headers file past its cap is refused by name, not cut silently and read in part.
	hugeHeaders := filepath.Join(dir, "huge-headers")
	headerData, err := os.ReadFile(hf)
	require.NoError(t, err)
	padding := "X-Padding: " + strings.Repeat("p", maxHeaderFile) + "\r\n"
	require.NoError(t, os.WriteFile(hugeHeaders, append(headerData[:len(headerData)-2], padding+"\r\n"...), 0o600))
	code, _, stderr = runIn(t, testEnv(nil), "verify", "--headers", hugeHeaders, "--body", bf)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--headers: "+hugeHeaders+" is larger than 1048576 bytes")

	code, _, stderr = runIn(t, testEnv(map[string]string{configDirEnv: dir}), "verify", "--dev", "--headers", hf, "--body", bf)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "there is no development CA in "+filepath.Join(dir, "dev"))
}

// TestVerifyEscapesCapturedText: the captured headers and a genuine event's fields are printed
// escaped, whatever bytes they hold.
func TestVerifyEscapesCapturedText(t *testing.T) {
	const forged = "\x1b[2J\x1b[H\rOK: the signature is valid\x1b[K\x7f\u009b2J\x9b2J\x00"
	const escaped = `\x1b[2J\x1b[H\rOK: the signature is valid\x1b[K\x7f\u009b2J\x9b2J\x00`

	body := pcwebhooktest.EventSpec{Name: pcwebhook.EventName("x" + forged), ResourceURI: "https://api.partnercenter.microsoft.com/" + forged}.Body()
	code, stdout, stderr := verifyCapture(t, testEnv(nil), devDelivery(t, body), body, "--dev")
	require.Equal(t, 0, code, stdout+stderr)
	assertTerminalSafe(t, stdout)
	inBody := strings.Replace(escaped, `\x9b`, "\ufffd", 1) // encoding/json wrote the invalid byte as U+FFFD
	assert.Contains(t, stdout, "\nEvent x"+inBody+"\n")
	assert.Contains(t, stdout, "\n  ResourceUri            https://api.partnercenter.microsoft.com/"+inBody+"\n")

	body = pcwebhooktest.SampleEventAt(pcwebhook.EventInvoiceReady, time.Now())
	for _, k := range []string{"X-Ms-Signature-Algorithm", "X-Ms-Certificate-Url", "Authorization"} {
		h := devDelivery(t, body)
		h.Set(k, "Signature "+forged)
		code, stdout, _ := verifyCapture(t, testEnv(nil), h, body, "--dev")
		assert.Equal(t, 1, code, k)
		assertTerminalSafe(t, stdout)
		assert.Contains(t, stdout, `Signature \x1b[2J\x1b[H\rOK`, k) // a signature is shortened
		for _, line := range strings.Split(stdout, "\n") {
			assert.False(t, strings.HasPrefix(line, "OK"), "a forged line: %q", line)
		}
	}
}
