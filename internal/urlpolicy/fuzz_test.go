package urlpolicy_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/partnercenter-go/pcwebhook/internal/urlpolicy"
)

// FuzzMatch checks the invariant that matters, against the production certificate allow-list:
// whatever the strict parser accepts, net/url reads as the same https URL on the host of one of
// the prefixes, with no userinfo, query or fragment, and a request path inside that prefix that
// has no dot segments.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{
		"https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer",
		"HTTPS://3PSOSTORAGEACCT.blob.core.windows.net:443/cert/x.cer",
		"https://3psostorageacct.blob.core.windows.net@evil/cert/x.cer",
		"https://evil@3psostorageacct.blob.core.windows.net/cert/x.cer",
		"https://3psostorageacct.blob.core.windows.net/cert/%2e%2e/x",
		"https://3psostorageacct.blob.core.windows.net/cert/..;/x",
		"https://3psostorageacct.blob.core.windows.net/cert/.;x/y",
		"https://3psostorageacct.blob.core.windows.net/cert/%2e%2e;/x",
		"https://3psostorageacct.blob.core.windows.net/cert/;/x",
		"https://3psostorageacct.blob.core.windows.net/cert/x?y#z",
		"https://3psostorageacct.blob.core.windows.net:8443/cert/x",
		"https://3psostorageacct.blob.core.windows.net/cert/a!$&'()*+,;=:b",
	} {
		f.Add(s)
	}
	list := urlpolicy.DefaultCertificatePrefixes()
	certPrefixes := prefixes(f, list, false)
	// What net/url reads from each prefix (written in canonical form, see TestDefaultPrefixes).
	var allowed []*url.URL
	for _, s := range list {
		p, err := url.Parse(s)
		if err != nil {
			f.Fatal(err)
		}
		allowed = append(allowed, p)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, reason := urlpolicy.Match(s, certPrefixes, false)
		if reason != "" {
			return
		}
		if err := u.CrossCheck(); err != nil {
			t.Fatalf("accepted %q but net/url disagrees: %v", s, err)
		}
		p, err := url.Parse(u.Canonical())
		if err != nil {
			t.Fatalf("accepted %q: %v", s, err)
		}
		if p.Scheme != "https" || p.User != nil || p.RawQuery != "" || p.ForceQuery || p.Fragment != "" || !insideOne(p, allowed) {
			t.Fatalf("accepted %q, which net/url reads as %#v", s, p)
		}
		for _, seg := range strings.Split(p.Path, "/") {
			if i := strings.IndexByte(seg, ';'); i >= 0 {
				seg = seg[:i] // what a server that strips path parameters (Tomcat: "..;") sees
			}
			if seg == "." || seg == ".." {
				t.Fatalf("accepted %q with a dot segment", s)
			}
		}
	})
}

// insideOne reports whether net/url's reading of an accepted URL has the scheme and host (with
// port) of one of the allowed prefixes and a path below it (or equal to it, for a prefix whose
// path does not end in "/").
func insideOne(p *url.URL, allowed []*url.URL) bool {
	for _, a := range allowed {
		if p.Scheme != a.Scheme || p.Host != a.Host {
			continue
		}
		if strings.HasSuffix(a.Path, "/") {
			if len(p.Path) > len(a.Path) && strings.HasPrefix(p.Path, a.Path) {
				return true
			}
		} else if p.Path == a.Path {
			return true
		}
	}
	return false
}
