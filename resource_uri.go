package pcwebhook

import (
	"net/url"
	"strings"
)

// appendPathSegments appends the decoded path segments of a ResourceUri to dst, whatever its
// scheme, host and version prefix: "https://host/webhooks/v1/customers/a" and "/v1/customers/a"
// both give [..., "customers", "a"]. It never fails: an undecodable segment is kept as sent.
func appendPathSegments(dst []string, uri string) []string {
	path := strings.TrimSpace(uri)
	for i := 0; i < len(path); i++ {
		if path[i] == '?' || path[i] == '#' {
			path = path[:i]
			break
		}
	}
	if i := strings.Index(path, "://"); i >= 0 {
		path = path[i+3:]
		j := strings.IndexByte(path, '/')
		if j < 0 {
			return dst
		}
		path = path[j:]
	}
	for path != "" {
		var s string
		s, path, _ = strings.Cut(path, "/")
		if s == "" {
			continue
		}
		if strings.IndexByte(s, '%') >= 0 {
			if u, err := url.PathUnescape(s); err == nil {
				s = u
			}
		}
		dst = append(dst, strings.TrimSpace(s))
	}
	return dst
}

// matchResourcePath finds pattern in the path of uri and stores the segments that stand where the
// pattern has "" into ids, in order. Fixed segments match case-insensitively. The first place where
// the pattern's first segment occurs is used; matching stops at the first fixed segment that
// differs, at a segment that is a collection name (resourceKeywords) where an ID should be, or at
// the end of the path, so IDs the URI does not carry stay empty.
func matchResourcePath(uri string, pattern []string, ids ...*string) {
	var buf [16]string // ResourceUris have fewer segments: no allocation
	segs := appendPathSegments(buf[:0], uri)
	start := -1
	for i, s := range segs {
		if strings.EqualFold(s, pattern[0]) {
			start = i
			break
		}
	}
	if start < 0 {
		return
	}
	next := 0
	for j, p := range pattern {
		k := start + j
		if k >= len(segs) {
			return
		}
		if p != "" {
			if !strings.EqualFold(segs[k], p) {
				return
			}
			continue
		}
		if isResourceKeyword(segs[k]) {
			return // e.g. ".../newcommerce/schedules/x" carries no migration ID
		}
		*ids[next] = segs[k]
		next++
	}
}

// isResourceKeyword reports whether a path segment is a collection name rather than an ID.
func isResourceKeyword(seg string) bool {
	if len(seg) > 32 { // longer than every keyword: no need to lower-case it
		return false
	}
	if resourceKeywords[seg] {
		return true
	}
	var buf [32]byte
	return resourceKeywords[string(toLowerASCII(buf[:0], seg))]
}

func toLowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// resourceQueryValue returns the value of the query parameter key (matched case-insensitively) of
// uri, or "" when there is none, as in "/v1/fraudEvents?SubscriptionId=...&EventStatus=...".
func resourceQueryValue(uri, key string) string {
	uri = strings.TrimSpace(uri)
	i := strings.IndexByte(uri, '?')
	if i < 0 {
		return ""
	}
	query := uri[i+1:]
	if j := strings.IndexByte(query, '#'); j >= 0 {
		query = query[:j]
	}
	for _, pair := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if !strings.EqualFold(strings.TrimSpace(k), key) {
			continue
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		return strings.TrimSpace(v)
	}
	return ""
}
