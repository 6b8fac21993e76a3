// Package urlpolicy is the verifier's URL policy, the boundary that keeps its downloads from being
// steered to other hosts (server-side request forgery): a strict syntax check of certificate and
// issuer URLs ([Parse]), allow-lists of URL prefixes they must fall inside ([Prefix], [Match]),
// and a cross-check that net/url, which makes the request, reads an accepted URL the same way
// ([URL.CrossCheck]). It also holds the production allow-lists ([DefaultCertificatePrefixes],
// [DefaultIssuerPrefixes]).
package urlpolicy

import (
	"errors"
	"net/url"
	"strings"
)

// MaxLength bounds the certificate and issuer URLs the verifier considers.
const MaxLength = 2048

// DefaultCertificatePrefixes returns the production allow-list of certificate URLs, which
// pcwebhook.DefaultCertificateURLPrefixes returns: the only location Partner Center has ever
// documented. Each entry is written in canonical form.
func DefaultCertificatePrefixes() []string {
	return []string{"https://3psostorageacct.blob.core.windows.net/cert/"}
}

// DefaultIssuerPrefixes returns the production allow-list for downloading missing issuer
// certificates (Authority Information Access "CA Issuers" URLs), which
// pcwebhook.DefaultIssuerURLPrefixes returns: Microsoft's and DigiCert's public certificate
// stores. Each entry is written in canonical form.
func DefaultIssuerPrefixes() []string {
	return []string{
		"http://www.microsoft.com/pkiops/certs/",
		"https://www.microsoft.com/pkiops/certs/",
		"http://www.microsoft.com/pki/certs/",
		"https://www.microsoft.com/pki/certs/",
		"http://cacerts.digicert.com/",
		"https://cacerts.digicert.com/",
	}
}

// URL is what [Parse] and [Match] make of a URL. When they give no reason, it passed the strict
// syntax check: an absolute http or https URL with a host, an optional port, a path, and nothing
// else. A refused URL, like the zero URL, must not be downloaded (the zero URL matches no prefix
// and fails [URL.CrossCheck]). Its strings are substrings of the input, so parsing a URL allocates
// nothing unless it must be canonicalized.
type URL struct {
	scheme    string // "http" or "https", as written (any letter case)
	host      string // host name or bracketed IP literal, as written
	port      string // decimal port as written, "" when absent
	path      string // starts with "/"
	canonical string // lower-case scheme and host, default port dropped
}

// Scheme returns the scheme as written: "http" or "https" in any letter case.
func (u *URL) Scheme() string { return u.scheme }

// Host returns the host as written: a name or a bracketed IPv6 literal, in any letter case.
func (u *URL) Host() string { return u.host }

// Port returns the decimal port as written, or "" when the URL has none.
func (u *URL) Port() string { return u.port }

// Path returns the path, which starts with "/": the request line of a download of the URL.
func (u *URL) Path() string { return u.path }

// Canonical returns the canonical form, the one downloaded and used as a cache key: lower-case
// scheme and host, default port dropped, the path as written.
func (u *URL) Canonical() string { return u.canonical }

// HTTPS reports whether the scheme is https.
func (u *URL) HTTPS() bool { return len(u.scheme) == 5 }

// EffectivePort returns the port, with the scheme's default filled in.
func (u *URL) EffectivePort() string {
	switch {
	case u.port != "":
		return u.port
	case u.HTTPS():
		return "443"
	default:
		return "80"
	}
}

// Authority returns host[:port] in canonical form (default port dropped), for messages; "" when
// the URL was rejected before its host passed the check.
func (u *URL) Authority() string {
	if u.host == "" {
		return ""
	}
	h := strings.ToLower(u.host)
	if p := u.EffectivePort(); p != defaultPort(u.HTTPS()) {
		return h + ":" + p
	}
	return h
}

func defaultPort(https bool) string {
	if https {
		return "443"
	}
	return "80"
}

// Parse checks s against the verifier's URL hygiene rules and splits it. It accepts only
// printable ASCII, the http or https scheme, a host made of letters, digits, '-' and '.' (or a
// bracketed IPv6 literal), an optional decimal port without leading zeros, and a path of
// unreserved characters and sub-delimiters. It rejects userinfo, a query (even a bare '?'), a
// fragment, backslashes, '@', empty segments ("//"), "." and ".." segments, the same behind path
// parameters ("..;x", ".;", ";x" as a whole segment), and percent-encoding. When allowEscapes is
// true (issuer URLs: Microsoft's AIA URLs contain "%20"), an escape is accepted if it encodes a
// printable character other than '/', '\', '.', '%', '?', '#' and ';', so that no escape can
// change how the path splits into segments.
//
// On failure it returns a short reason, safe to log.
func Parse(s string, allowEscapes bool) (URL, string) {
	var u URL
	if len(s) > MaxLength {
		return u, "URL too long"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c >= 0x7f:
			return u, "control, space or non-ASCII character"
		case c == '?':
			return u, "query not allowed"
		case c == '#':
			return u, "fragment not allowed"
		case c == '\\':
			return u, "backslash not allowed"
		case c == '@':
			return u, "userinfo ('@') not allowed"
		}
	}
	i := strings.Index(s, "://")
	if i < 0 {
		return u, "not an absolute URL"
	}
	u.scheme = s[:i]
	if !strings.EqualFold(u.scheme, "https") && !strings.EqualFold(u.scheme, "http") {
		return u, "scheme not allowed"
	}
	rest := s[i+3:]
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return u, "no path"
	}
	authority, path := rest[:slash], rest[slash:]
	if reason := u.splitAuthority(authority); reason != "" {
		return u, reason
	}
	if reason := checkPath(path, allowEscapes); reason != "" {
		return u, reason
	}
	u.path = path
	u.canonical = u.canonicalize(s)
	return u, ""
}

// splitAuthority fills host and port from host[:port].
func (u *URL) splitAuthority(a string) string {
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "malformed IPv6 host"
		}
		host = a[:end+1]
		for _, c := range host[1:end] {
			if !(c == ':' || c == '.' || isHex(byte(c))) {
				return "malformed IPv6 host"
			}
		}
		if end < 2 {
			return "empty host"
		}
		after := a[end+1:]
		if after != "" {
			if after[0] != ':' {
				return "malformed host"
			}
			port = after[1:]
			if port == "" {
				return "empty port"
			}
		}
	} else {
		if c := strings.IndexByte(a, ':'); c >= 0 {
			host, port = a[:c], a[c+1:]
			if port == "" {
				return "empty port"
			}
		}
		if host == "" {
			return "empty host"
		}
		for j := 0; j < len(host); j++ {
			c := host[j]
			if !(isAlnum(c) || c == '-' || c == '.') {
				return "invalid character in host"
			}
		}
	}
	if port != "" {
		if len(port) > 5 || port[0] == '0' {
			return "invalid port"
		}
		n := 0
		for j := 0; j < len(port); j++ {
			if port[j] < '0' || port[j] > '9' {
				return "invalid port"
			}
			n = n*10 + int(port[j]-'0')
		}
		if n > 65535 {
			return "invalid port"
		}
	}
	u.host, u.port = host, port
	return ""
}

// checkPath applies the path rules of Parse.
func checkPath(p string, allowEscapes bool) string {
	if len(p) == 0 || p[0] != '/' {
		return "no path"
	}
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			c := p[i]
			switch {
			case c == '%':
				if !allowEscapes {
					return "percent-encoding not allowed"
				}
				if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
					return "malformed percent-encoding"
				}
				d := unhex(p[i+1])<<4 | unhex(p[i+2])
				if d < ' ' || d >= 0x7f || strings.IndexByte(`/\.%?#;`, d) >= 0 {
					return "percent-encoded character not allowed"
				}
				i += 2
			case !isPathChar(c):
				return "invalid character in path"
			}
			continue
		}
		// End of a segment: p[segStart:i].
		seg := p[segStart:i]
		if i < len(p) && seg == "" {
			return "empty path segment ('//')"
		}
		if seg == "." || seg == ".." {
			return "dot segment in path"
		}
		// Servers that take ";" as the start of path parameters (Tomcat, Jetty, some proxies)
		// read "..;x" as "..": a dot segment in disguise. An empty name before ";" is an empty
		// segment in disguise.
		if semi := strings.IndexByte(seg, ';'); semi >= 0 {
			switch seg[:semi] {
			case ".", "..":
				return "dot segment with path parameters (\";\") in path"
			case "":
				return "empty path segment with path parameters (\";\") in path"
			}
		}
		segStart = i + 1
	}
	return ""
}

// canonicalize returns s itself when it is already canonical (the common case, no allocation),
// otherwise the canonical form: lower-case scheme and host, default port dropped.
func (u *URL) canonicalize(s string) string {
	scheme := "http"
	if u.HTTPS() {
		scheme = "https"
	}
	port := u.port
	if port == defaultPort(u.HTTPS()) {
		port = ""
	}
	if u.scheme == scheme && port == u.port && !hasUpper(u.host) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(strings.ToLower(u.host))
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(u.path)
	return b.String()
}

// CrossCheck parses the canonical form with net/url and confirms that it means what [Parse]
// concluded: same scheme, host, port and request path, and no userinfo, query or
// fragment. It runs before every download, so what is fetched is exactly what was checked.
func (u *URL) CrossCheck() error {
	p, err := url.Parse(u.canonical)
	if err != nil {
		return err
	}
	switch {
	case p.User != nil, p.RawQuery != "", p.ForceQuery, p.Fragment != "", p.Opaque != "":
		return errors.New("URL has parts the strict parser did not see")
	case !strings.EqualFold(p.Scheme, u.scheme):
		return errors.New("scheme mismatch")
	case !strings.EqualFold(p.Hostname(), strings.Trim(u.host, "[]")):
		return errors.New("host mismatch")
	case p.RequestURI() != u.path:
		return errors.New("path mismatch")
	}
	port := p.Port()
	if port == "" {
		port = defaultPort(u.HTTPS())
	}
	if port != u.EffectivePort() {
		return errors.New("port mismatch")
	}
	return nil
}

// Prefix is one entry of an allow-list: scheme, host and port must be equal, and the path
// must start with the prefix's path when that ends with '/', or equal it otherwise.
type Prefix struct {
	https bool
	host  string // lower case
	port  string // effective port
	path  string
	raw   string
}

// String returns the prefix as written.
func (p *Prefix) String() string { return p.raw }

// ParsePrefix validates an allow-list entry: a URL that passes [Parse] without escapes.
// httpAllowed says whether plain http is acceptable (issuer prefixes only).
func ParsePrefix(s string, httpAllowed bool) (Prefix, error) {
	u, reason := Parse(s, false)
	if reason != "" {
		return Prefix{}, errors.New(reason)
	}
	if !u.HTTPS() && !httpAllowed {
		return Prefix{}, errors.New("scheme must be https")
	}
	return Prefix{
		https: u.HTTPS(),
		host:  strings.ToLower(u.host),
		port:  u.EffectivePort(),
		path:  u.path,
		raw:   s,
	}, nil
}

// Matches reports whether u is inside the prefix.
func (p *Prefix) Matches(u *URL) bool {
	if p.https != u.HTTPS() || !strings.EqualFold(p.host, u.host) || p.port != u.EffectivePort() {
		return false
	}
	if strings.HasSuffix(p.path, "/") {
		return len(u.path) > len(p.path) && strings.HasPrefix(u.path, p.path)
	}
	return u.path == p.path
}

// Match parses raw with [Parse] and checks it against the prefixes. It returns the parsed URL,
// and a short reason, safe to log, when raw is malformed or outside the list ("" when it is
// inside). A refused URL is returned too: its [URL.Authority] names the host when the host itself
// passed the check, for messages; it must not be downloaded.
func Match(raw string, prefixes []Prefix, allowEscapes bool) (URL, string) {
	u, reason := Parse(raw, allowEscapes)
	if reason != "" {
		return u, reason
	}
	for i := range prefixes {
		if prefixes[i].Matches(&u) {
			return u, ""
		}
	}
	return u, "not in the allow-list"
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// isPathChar reports whether c may appear literally in a path segment: RFC 3986 unreserved
// characters and sub-delimiters, and ':'.
func isPathChar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':':
		return true
	}
	return false
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
