package pcwebhook

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const prodCert = "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer"

func TestCertificateURLAllowList(t *testing.T) {
	prefixes := defaultConfig().certPrefixes
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
		{"non-ASCII host", "https://3psostorageacct.blob.core.windows.nеt/cert/x.cer", ""},
		{"no path", "https://3psostorageacct.blob.core.windows.net", ""},
		{"relative", "/cert/x.cer", ""},
		{"scheme-relative", "//3psostorageacct.blob.core.windows.net/cert/x.cer", ""},
		{"IPv6 literal", "https://[::1]/cert/x.cer", ""},
		{"empty", "", ""},
		{"too long", "https://3psostorageacct.blob.core.windows.net/cert/" + strings.Repeat("a", maxURLLength), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, reason := matchAllowList(tc.url, prefixes, false)
			if tc.canonical == "" {
				assert.NotEmpty(t, reason, "must be rejected")
				return
			}
			require.Empty(t, reason)
			assert.Equal(t, tc.canonical, u.canonical)
			assert.NoError(t, u.crossCheck())
		})
	}
}

func TestIssuerURLAllowList(t *testing.T) {
	prefixes := defaultConfig().issuerPrefixes
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
			u, reason := matchAllowList(tc.url, prefixes, true)
			if !tc.ok {
				assert.NotEmpty(t, reason)
				return
			}
			require.Empty(t, reason)
			require.NoError(t, u.crossCheck())
			p, err := url.Parse(u.canonical)
			require.NoError(t, err)
			assert.Equal(t, tc.url, u.canonical)
			assert.Equal(t, u.path, p.RequestURI(), "the request line is the checked path")
		})
	}
}

func TestURLPrefixValidation(t *testing.T) {
	for _, tc := range []struct {
		prefix      string
		httpAllowed bool
		ok          bool
	}{
		{"https://3psostorageacct.blob.core.windows.net/cert/", false, true},
		{"https://host.example/exact/file.cer", false, true},
		{"https://127.0.0.1:8443/cert/", false, true},
		{"https://[::1]:8443/cert/", false, true},
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
		{"host.example/cert/", false, false},
		{"", false, false},
		{" https://host.example/cert/", false, false},
	} {
		_, err := parseURLPrefix(tc.prefix, tc.httpAllowed)
		assert.Equal(t, tc.ok, err == nil, "prefix %q: %v", tc.prefix, err)
	}
}

func TestURLPrefixMatching(t *testing.T) {
	dir, err := parseURLPrefix("https://127.0.0.1:8443/cert/", false)
	require.NoError(t, err)
	exact, err := parseURLPrefix("https://host.example/cert/a.cer", false)
	require.NoError(t, err)
	for _, tc := range []struct {
		p   urlPrefix
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
		_, reason := matchAllowList(tc.url, []urlPrefix{tc.p}, false)
		assert.Equal(t, tc.ok, reason == "", "%s against %s: %s", tc.url, tc.p.raw, reason)
	}
}

func TestDefaultPrefixesParse(t *testing.T) {
	cfg := defaultConfig()
	assert.Len(t, cfg.certPrefixes, len(DefaultCertificateURLPrefixes()))
	assert.Len(t, cfg.issuerPrefixes, len(DefaultIssuerURLPrefixes()))
	for _, p := range cfg.certPrefixes {
		assert.True(t, p.https, "certificate prefixes are https only")
	}
}

func TestCanonicalURLDoesNotAllocate(t *testing.T) {
	prefixes := defaultConfig().certPrefixes
	allocs := testing.AllocsPerRun(100, func() {
		if _, reason := matchAllowList(prodCert, prefixes, false); reason != "" {
			t.Fatal(reason)
		}
	})
	assert.Zero(t, allocs)
}
