package urlpolicy_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook/internal/urlpolicy"
)

const prodCert = "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer"

// prefixes parses an allow-list.
func prefixes(t testing.TB, list []string, httpAllowed bool) []urlpolicy.Prefix {
	t.Helper()
	out := make([]urlpolicy.Prefix, 0, len(list))
	for _, s := range list {
		p, err := urlpolicy.ParsePrefix(s, httpAllowed)
		require.NoError(t, err, "prefix %q", s)
		out = append(out, p)
	}
	return out
}

func TestMatchCertificateURLs(t *testing.T) {
	certPrefixes := prefixes(t, urlpolicy.DefaultCertificatePrefixes(), false)
	for _, tc := range []struct {
		name, url string
		canonical string // "" when rejected
	}{
		{"documented URL", prodCert, prodCert},
		{"older name", "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications.microsoft.com.cer",
			"https://3psostorageacct.blob.core.windows.net/cert/pcnotifications.microsoft.com.cer"},
		{"upper-case scheme and host", "HTTPS://3PSOSTORAGEACCT.Blob.Core.Windows.Net/cert/x.cer",
			"https://3psostorageacct.blob.core.windows.net/cert/x.cer"},
		{"explicit default port", "https://3psostorageacct.blob.core.windows.net:443/cert/x.cer",
			"https://3psostorageacct.blob.core.windows.net/cert/x.cer"},
		{"nested path", "https://3psostorageacct.blob.core.windows.net/cert/a/b.cer",
			"https://3psostorageacct.blob.core.windows.net/cert/a/b.cer"},

		{"http", "http://3psostorageacct.blob.core.windows.net/cert/x.cer", ""},
		{"other scheme", "ftp://3psostorageacct.blob.core.windows.net/cert/x.cer", ""},
		{"other port", "https://3psostorageacct.blob.core.windows.net:8443/cert/x.cer", ""},
		{"port 0443", "https://3psostorageacct.blob.core.windows.net:0443/cert/x.cer", ""},
		{"empty port", "https://3psostorageacct.blob.core.windows.net:/cert/x.cer", ""},
		{"port overflow", "https://3psostorageacct.blob.core.windows.net:99999/cert/x.cer", ""},
		{"userinfo host trick", "https://3psostorageacct.blob.core.windows.net@evil/cert/x.cer", ""},
		{"userinfo before host", "https://evil@3psostorageacct.blob.core.windows.net/cert/x.cer", ""},
		{"userinfo with password", "https://a:b@3psostorageacct.blob.core.windows.net/cert/x.cer", ""},
		{"foreign host", "https://evil.example/cert/x.cer", ""},
		{"suffix host", "https://3psostorageacct.blob.core.windows.net.evil.example/cert/x.cer", ""},
		{"prefix host", "https://x3psostorageacct.blob.core.windows.net/cert/x.cer", ""},
		{"other storage account", "https://evilacct.blob.core.windows.net/cert/x.cer", ""},
		{"trailing dot host", "https://3psostorageacct.blob.core.windows.net./cert/x.cer", ""},
		{"path outside prefix", "https://3psostorageacct.blob.core.windows.net/certificates/x.cer", ""},
		{"prefix directory itself", "https://3psostorageacct.blob.core.windows.net/cert/", ""},
		{"prefix without slash", "https://3psostorageacct.blob.core.windows.net/cert", ""},
		{"dot dot", "https://3psostorageacct.blob.core.windows.net/cert/../evil/x.cer", ""},
		{"dot dot at end", "https://3psostorageacct.blob.core.windows.net/cert/..", ""},
		{"dot", "https://3psostorageacct.blob.core.windows.net/cert/./x.cer", ""},
		{"dot dot with path parameter", "https://3psostorageacct.blob.core.windows.net/cert/..;/evil/x.cer", ""},
		{"dot dot with named path parameter", "https://3psostorageacct.blob.core.windows.net/cert/..;x=1/evil/x.cer", ""},
		{"dot with path parameter", "https://3psostorageacct.blob.core.windows.net/cert/.;x/x.cer", ""},
		{"dot dot with path parameter at end", "https://3psostorageacct.blob.core.windows.net/cert/a/..;", ""},
		{"encoded dot dot with path parameter", "https://3psostorageacct.blob.core.windows.net/cert/%2e%2e;/evil/x.cer", ""},
		{"empty segment with path parameter", "https://3psostorageacct.blob.core.windows.net/cert/;x/x.cer", ""},
		{"path parameter in a name", "https://3psostorageacct.blob.core.windows.net/cert/x.cer;v=1",
			"https://3psostorageacct.blob.core.windows.net/cert/x.cer;v=1"},
		{"encoded dot dot", "https://3psostorageacct.blob.core.windows.net/cert/%2e%2e/evil/x.cer", ""},
		{"encoded slash", "https://3psostorageacct.blob.core.windows.net/cert/..%2Fevil%2Fx.cer", ""},
		{"encoded letter", "https://3psostorageacct.blob.core.windows.net/cert/%78.cer", ""},
		{"double slash", "https://3psostorageacct.blob.core.windows.net/cert//x.cer", ""},
		{"backslash", "https://3psostorageacct.blob.core.windows.net/cert/..\\evil\\x.cer", ""},
		{"query", "https://3psostorageacct.blob.core.windows.net/cert/x.cer?sv=1", ""},
		{"bare query", "https://3psostorageacct.blob.core.windows.net/cert/x.cer?", ""},
		{"fragment", "https://3psostorageacct.blob.core.windows.net/cert/x.cer#f", ""},
		{"space", "https://3psostorageacct.blob.core.windows.net/cert/x .cer", ""},
		{"tab", "https://3psostorageacct.blob.core.windows.net/cert/x\t.cer", ""},
		{"newline", "https://3psostorageacct.blob.core.windows.net/cert/x.cer\nHost: evil", ""},
		{"NUL", "https://3psostorageacct.blob.core.windows.net/cert/x\x00.cer", ""},
		{"angle brackets in path", "https://3psostorageacct.blob.core.windows.net/cert/<x>.cer", ""},
		{"brackets in path", "https://3psostorageacct.blob.core.windows.net/cert/[x].cer", ""},
		{"quote in path", "https://3psostorageacct.blob.core.windows.net/cert/\"x.cer", ""},
		{"pipe, caret, backtick, braces in path", "https://3psostorageacct.blob.core.windows.net/cert/|^`{}.cer", ""},
		{"non-ASCII host", "https://3psostorageacct.blob.core.windows.nеt/cert/x.cer", ""},
		{"no path", "https://3psostorageacct.blob.core.windows.net", ""},
		{"relative", "/cert/x.cer", ""},
		{"scheme-relative", "//3psostorageacct.blob.core.windows.net/cert/x.cer", ""},
		{"IPv6 literal", "https://[::1]/cert/x.cer", ""},
		{"empty", "", ""},
		{"too long", "https://3psostorageacct.blob.core.windows.net/cert/" + strings.Repeat("a", urlpolicy.MaxLength), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, reason := urlpolicy.Match(tc.url, certPrefixes, false)
			if tc.canonical == "" {
				assert.NotEmpty(t, reason, "must be rejected")
				return
			}
			require.Empty(t, reason)
			assert.Equal(t, tc.canonical, u.Canonical())
			assert.NoError(t, u.CrossCheck())
		})
	}
}

func TestMatchIssuerURLs(t *testing.T) {
	issuerPrefixes := prefixes(t, urlpolicy.DefaultIssuerPrefixes(), true)
	for _, tc := range []struct {
		name, url string
		ok        bool
	}{
		// Real AIA URLs of Microsoft's Azure TLS issuing CAs contain %20.
		{"microsoft pkiops with spaces", "http://www.microsoft.com/pkiops/certs/Microsoft%20Azure%20RSA%20TLS%20Issuing%20CA%2004%20-%20xsign.crt", true},
		{"microsoft pkiops https", "https://www.microsoft.com/pkiops/certs/Microsoft%20RSA%20Root%20Certificate%20Authority%202017.crt", true},
		{"microsoft pki", "http://www.microsoft.com/pki/certs/MicRooCerAut2011_2011_03_22.crt", true},
		{"digicert", "http://cacerts.digicert.com/DigiCertGlobalRootG2.crt", true},
		{"digicert https", "https://cacerts.digicert.com/DigiCertGlobalRootG2.crt", true},

		{"other host", "http://cacerts.evil.example/x.crt", false},
		{"microsoft other path", "http://www.microsoft.com/evil/x.crt", false},
		{"encoded slash", "http://www.microsoft.com/pkiops/certs/..%2f..%2fevil.crt", false},
		{"encoded slash, upper-case hex", "http://www.microsoft.com/pkiops/certs/..%2F..%2Fevil.crt", false},
		{"encoded backslash", "http://www.microsoft.com/pkiops/certs/..%5C..%5Cevil.crt", false},
		{"encoded dot", "http://www.microsoft.com/pkiops/certs/%2e%2e/x.crt", false},
		{"encoded percent", "http://www.microsoft.com/pkiops/certs/%25.crt", false},
		{"encoded NUL", "http://www.microsoft.com/pkiops/certs/%00.crt", false},
		{"truncated escape", "http://www.microsoft.com/pkiops/certs/x%2", false},
		{"non-hex escape", "http://www.microsoft.com/pkiops/certs/x%zz.crt", false},
		{"dot dot", "http://www.microsoft.com/pkiops/certs/../../evil.crt", false},
		{"dot dot with path parameter", "http://www.microsoft.com/pkiops/certs/x/..;/evil.crt", false},
		{"dot dot with encoded path parameter", "http://www.microsoft.com/pkiops/certs/x/..%3b/evil.crt", false},
		{"encoded dot dot with path parameter", "http://www.microsoft.com/pkiops/certs/x/%2e%2e;/evil.crt", false},
		{"query", "http://cacerts.digicert.com/x.crt?a", false},
		{"other port", "http://cacerts.digicert.com:8080/x.crt", false},
		{"https on port 80", "https://cacerts.digicert.com:80/x.crt", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, reason := urlpolicy.Match(tc.url, issuerPrefixes, true)
			if !tc.ok {
				assert.NotEmpty(t, reason)
				return
			}
			require.Empty(t, reason)
			require.NoError(t, u.CrossCheck())
			p, err := url.Parse(u.Canonical())
			require.NoError(t, err)
			assert.Equal(t, tc.url, u.Canonical())
			assert.Equal(t, u.Path(), p.RequestURI(), "the request line is the checked path")
		})
	}
}

func TestParsePrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix      string
		httpAllowed bool
		ok          bool
	}{
		{"https://3psostorageacct.blob.core.windows.net/cert/", false, true},
		{"https://host.example/exact/file.cer", false, true},
		{"https://127.0.0.1:8443/cert/", false, true},
		{"https://[::1]:8443/cert/", false, true},
		{"https://[::ffff:127.0.0.1]/cert/", false, true},
		{"https://host.example/", false, true},
		{"http://www.microsoft.com/pkiops/certs/", true, true},

		{"http://host.example/cert/", false, false},
		{"https://host.example", false, false},
		{"https://host.example/cert/?", false, false},
		{"https://host.example/cert/?a=b", false, false},
		{"https://host.example/cert/#x", false, false},
		{"https://user@host.example/cert/", false, false},
		{"https://host.example/%63ert/", true, false},
		{"https://host.example/cert/../", false, false},
		{"https://host.example:0/cert/", false, false},
		{"https:///cert/", false, false},
		{"https://:443/cert/", false, false},
		{"https://[::1/cert/", false, false},
		{"https://[::g]/cert/", false, false},
		{"https://[]/cert/", false, false},
		{"https://[::1]x/cert/", false, false},
		{"https://[::1]:/cert/", false, false},
		{"https://[::1]:65536/cert/", false, false},
		{"https://host.example:8a/cert/", false, false},
		{"host.example/cert/", false, false},
		{"", false, false},
		{" https://host.example/cert/", false, false},
	} {
		_, err := urlpolicy.ParsePrefix(tc.prefix, tc.httpAllowed)
		assert.Equal(t, tc.ok, err == nil, "prefix %q: %v", tc.prefix, err)
	}
}

func TestPrefixMatches(t *testing.T) {
	dir, err := urlpolicy.ParsePrefix("https://127.0.0.1:8443/cert/", false)
	require.NoError(t, err)
	exact, err := urlpolicy.ParsePrefix("https://host.example/cert/a.cer", false)
	require.NoError(t, err)
	for _, tc := range []struct {
		p   urlpolicy.Prefix
		url string
		ok  bool
	}{
		{dir, "https://127.0.0.1:8443/cert/a.cer", true},
		{dir, "https://127.0.0.1/cert/a.cer", false},
		{dir, "https://127.0.0.1:443/cert/a.cer", false},
		{dir, "https://127.0.0.2:8443/cert/a.cer", false},
		{dir, "https://localhost:8443/cert/a.cer", false},
		{exact, "https://host.example/cert/a.cer", true},
		{exact, "https://host.example:443/cert/a.cer", true},
		{exact, "https://host.example/cert/a.cerx", false},
		{exact, "https://host.example/cert/a.cer/x", false},
		{exact, "https://host.example/cert/b.cer", false},
	} {
		_, reason := urlpolicy.Match(tc.url, []urlpolicy.Prefix{tc.p}, false)
		assert.Equal(t, tc.ok, reason == "", "%s against %s: %s", tc.url, tc.p.String(), reason)
	}
}

// TestDefaultPrefixes checks the production allow-lists: every entry is a valid prefix (the
// certificate ones https only), written in canonical form.
func TestDefaultPrefixes(t *testing.T) {
	for _, tc := range []struct {
		list        []string
		httpAllowed bool
	}{
		{urlpolicy.DefaultCertificatePrefixes(), false},
		{urlpolicy.DefaultIssuerPrefixes(), true},
	} {
		require.NotEmpty(t, tc.list)
		for _, s := range tc.list {
			_, err := urlpolicy.ParsePrefix(s, tc.httpAllowed)
			assert.NoError(t, err, "prefix %q", s)
			u, reason := urlpolicy.Parse(s, false)
			require.Empty(t, reason, "prefix %q", s)
			assert.Equal(t, s, u.Canonical(), "prefix %q is not canonical", s)
		}
	}
}

// TestParseParts checks how Parse splits a URL and the forms derived from the parts.
func TestParseParts(t *testing.T) {
	for _, tc := range []struct {
		url                                 string
		scheme, host, port, path            string
		https                               bool
		effectivePort, canonical, authority string
	}{
		{"https://host.example/a/b.cer", "https", "host.example", "", "/a/b.cer", true, "443", "https://host.example/a/b.cer", "host.example"},
		{"HTTPS://Host.Example:8443/a", "HTTPS", "Host.Example", "8443", "/a", true, "8443", "https://host.example:8443/a", "host.example:8443"},
		{"http://h.example:80/x", "http", "h.example", "80", "/x", false, "80", "http://h.example/x", "h.example"},
		{"Http://h.example:443/x", "Http", "h.example", "443", "/x", false, "443", "http://h.example:443/x", "h.example:443"},
		{"https://[::1]:443/x", "https", "[::1]", "443", "/x", true, "443", "https://[::1]/x", "[::1]"},
	} {
		u, reason := urlpolicy.Parse(tc.url, false)
		require.Empty(t, reason, tc.url)
		assert.Equal(t, []string{tc.scheme, tc.host, tc.port, tc.path}, []string{u.Scheme(), u.Host(), u.Port(), u.Path()}, tc.url)
		assert.Equal(t, tc.https, u.HTTPS(), tc.url)
		assert.Equal(t, tc.effectivePort, u.EffectivePort(), tc.url)
		assert.Equal(t, tc.canonical, u.Canonical(), tc.url)
		assert.Equal(t, tc.authority, u.Authority(), tc.url)
		assert.NoError(t, u.CrossCheck(), tc.url)
	}
}

// TestRefusedURLAuthority checks what a refused URL tells a message: its host once the host
// passed the check, nothing before.
func TestRefusedURLAuthority(t *testing.T) {
	certPrefixes := prefixes(t, urlpolicy.DefaultCertificatePrefixes(), false)
	for _, tc := range []struct{ url, authority string }{
		{"https://Evil.Example:8443/cert/x.cer", "evil.example:8443"},
		{"https://3psostorageacct.blob.core.windows.net/cert/../x.cer", "3psostorageacct.blob.core.windows.net"},
		{"https://evil@3psostorageacct.blob.core.windows.net/cert/x.cer", ""},
		{"https://evil_host/cert/x.cer", ""},
		{"https://host.example:99999/cert/x.cer", ""},
		{"ftp://host.example/cert/x.cer", ""},
		{"", ""},
	} {
		u, reason := urlpolicy.Match(tc.url, certPrefixes, false)
		require.NotEmpty(t, reason, tc.url)
		assert.Equal(t, tc.authority, u.Authority(), tc.url)
	}
}

// TestZeroURL checks that a URL not made by Parse matches nothing and is never downloaded.
func TestZeroURL(t *testing.T) {
	var zero urlpolicy.URL
	for _, p := range prefixes(t, urlpolicy.DefaultIssuerPrefixes(), true) {
		assert.False(t, p.Matches(&zero), p.String())
	}
	assert.Error(t, zero.CrossCheck())
	assert.Empty(t, zero.Authority())
}

func TestCanonicalURLDoesNotAllocate(t *testing.T) {
	certPrefixes := prefixes(t, urlpolicy.DefaultCertificatePrefixes(), false)
	allocs := testing.AllocsPerRun(100, func() {
		if _, reason := urlpolicy.Match(prodCert, certPrefixes, false); reason != "" {
			t.Fatal(reason)
		}
	})
	assert.Zero(t, allocs)
}
