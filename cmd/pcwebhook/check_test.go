package main

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook/internal/testpki"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// rootsFile writes the sender's root as a PEM file, for --roots.
func rootsFile(t *testing.T, s *pcwebhooktest.Sender) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "roots.pem")
	require.NoError(t, os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Root().Raw}), 0o600))
	return name
}

func TestCheckPasses(t *testing.T) {
	s := newCheckSender(t)
	e := testEnv(nil)
	e.downloads = s.Client()
	code, stdout, stderr := runIn(t, e, "check", "--url", s.CertificateURL(), "--roots", rootsFile(t, s),
		"--allow-cert-url", s.CertificateURLPrefix(), "--allow-issuer-url", s.IssuerURLPrefix())
	require.Equal(t, 0, code, stdout+stderr)
	out := oneLine(stdout)
	assert.Contains(t, out, "OK trust roots 1 root certificate(s) from")
	assert.Contains(t, out, "OK reachable downloaded from "+hostOf(s.CertificateURL())+" (HTTP 200,")
	assert.Regexp(t, `OK clock within [01]s of the certificate server's`, out) // Date has a one-second resolution
	assert.Contains(t, out, "OK certificate trusted: CN=pcnotifications-dispatch.microsoft.com, O=Microsoft Corporation, chains to a trusted root, valid until")
	assert.Contains(t, out, "All checks passed")
	assert.Equal(t, int64(1), s.Downloads())
}

func TestCheckFailures(t *testing.T) {
	s := newCheckSender(t)
	other := newCheckSender(t)
	allow := []string{"--allow-cert-url", s.CertificateURLPrefix(), "--allow-issuer-url", s.IssuerURLPrefix()}
	e := testEnv(nil)
	e.downloads = s.Client()

	// No roots at all (the test does not depend on this machine's CA bundle).
	empty := filepath.Join(t.TempDir(), "empty.pem")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	code, stdout, _ := runIn(t, e, append([]string{"check", "--url", s.CertificateURL(), "--roots", empty}, allow...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, oneLine(stdout), "FAIL trust roots "+empty+" holds no certificate")
	assert.Contains(t, stdout, "1 check(s) failed")

	// Roots that do not include the sender's: the chain fails, with the fix.
	code, stdout, _ = runIn(t, e, append([]string{"check", "--url", s.CertificateURL(), "--roots", rootsFile(t, other)}, allow...)...)
	assert.Equal(t, 1, code)
	out := oneLine(stdout)
	assert.Contains(t, out, "OK reachable")
	assert.Contains(t, out, `FAIL certificate not trusted at the "certificate-chain" check`[:30])
	assert.Contains(t, out, "certificate-chain")
	assert.Contains(t, out, "fix: the certificate does not chain to a root this process trusts: install the system CA bundle")

	// Outside the allow-list: never downloaded.
	code, stdout, _ = runIn(t, e, "check", "--url", s.CertificateURL(), "--roots", rootsFile(t, s))
	assert.Equal(t, 1, code)
	out = oneLine(stdout)
	assert.Contains(t, out, "FAIL reachable the URL is not allowed, so it was not downloaded (not in the allow-list)")
	assert.Contains(t, out, "SKIP certificate")

	// The host is gone.
	gone := newCheckSender(t)
	goneURL, goneAllow := gone.CertificateURL(), gone.CertificateURLPrefix()
	gone.Close()
	code, stdout, _ = runIn(t, e, "check", "--url", goneURL, "--roots", rootsFile(t, s), "--allow-cert-url", goneAllow)
	assert.Equal(t, 1, code)
	out = oneLine(stdout)
	assert.Contains(t, out, "FAIL reachable cannot download the certificate: pcwebhook: certificate unavailable: download: request failed")
	assert.Contains(t, out, "fix: let this host reach "+hostOf(goneURL)+" over HTTPS")
	assert.Contains(t, out, "SKIP clock")
	assert.Equal(t, int64(1), s.Downloads(), "only the check against the other roots downloaded from s")
}

// TestCheckClockSkew: a certificate server whose Date is an hour ahead fails the clock check; the
// certificate, valid at this host's time, is reported on its own.
func TestCheckClockSkew(t *testing.T) {
	s := newCheckSender(t)
	bundle := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Leaf().Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Intermediate().Raw})...)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Date", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		_, _ = w.Write(bundle)
	}))
	t.Cleanup(srv.Close)
	e := testEnv(nil)
	e.downloads = srv.Client()
	code, stdout, _ := runIn(t, e, "check", "--url", srv.URL+"/cert/x.cer", "--roots", rootsFile(t, s), "--allow-cert-url", srv.URL+"/cert/")
	assert.Equal(t, 1, code)
	out := oneLine(stdout)
	assert.Regexp(t, `FAIL clock this host's clock is (59m5\ds|1h0m\d*s?) behind the certificate server's`, out)
	assert.Contains(t, out, "fix: synchronize the clock (NTP")
	assert.Contains(t, out, "OK certificate trusted")

	// Within --max-skew it passes.
	code, stdout, _ = runIn(t, e, "check", "--url", srv.URL+"/cert/x.cer", "--roots", rootsFile(t, s), "--allow-cert-url", srv.URL+"/cert/", "--max-skew", "2h")
	assert.Equal(t, 0, code, stdout)
}

func TestCheckUsage(t *testing.T) {
	code, _, stderr := runIn(t, testEnv(nil), "check", "extra")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "unexpected arguments: extra")
	code, _, stderr = runIn(t, testEnv(nil), "check", "--max-skew", "0s")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "must be positive")
}

// newCheckSender starts a test sender, closed when the test ends.
func newCheckSender(t *testing.T) *pcwebhooktest.Sender {
	t.Helper()
	s, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// TestCheckEscapesCertificateText: a downloaded certificate's fields are printed escaped.
func TestCheckEscapesCertificateText(t *testing.T) {
	const cn = "pc\x1b[2J\x1b[H\r\n  OK    clock       forged\x1b[K\x7f\u009b2J\x00"
	ca, err := loadDevCA(filepath.Join(sharedConfigDir, "dev"))
	require.NoError(t, err)
	ch, err := testpki.NewChain(testpki.WithLeafCommonName(cn), testpki.WithoutIntermediate(), testpki.WithKeys(ca.key, nil, nil))
	require.NoError(t, err)
	srv, certURL := certificateServer(t, testpki.PEM(ch.Leaf))
	roots := filepath.Join(t.TempDir(), "roots.pem")
	require.NoError(t, os.WriteFile(roots, testpki.PEM(ch.Root), 0o600))
	e := testEnv(nil)
	e.downloads = srv.Client()
	code, stdout, _ := runIn(t, e, "check", "--url", certURL, "--roots", roots, "--allow-cert-url", srv.URL+"/cert/")
	assert.Equal(t, 0, code, stdout)
	assertTerminalSafe(t, stdout)
	assert.Contains(t, oneLine(stdout), `OK certificate trusted: CN=pc\x1b[2J\x1b[H\r\n OK clock forged\x1b[K\x7f\u009b2J\x00, O=Microsoft Corporation`)
	assert.Equal(t, 1, strings.Count(stdout, "  OK    clock"), stdout)
}
