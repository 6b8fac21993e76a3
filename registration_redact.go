package pcwebhook

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// redactedMark replaces a credential in the text of the Client's errors.
const redactedMark = "[REDACTED]"

const (
	// redactGram is how many consecutive characters of a known token make a word the token, or
	// a piece of it.
	redactGram = 16
	// redactShort: a known token shorter than this is recognized only as a whole word, so that
	// a token like "t" (in tests) does not eat every "t" of a message.
	redactShort = 8
	// redactBearerMin is the shortest word after "Bearer" that is taken for a credential ("Bearer
	// realm" and "Bearer token" are words of prose).
	redactBearerMin = 16
)

// redactor removes access tokens from the text of the Client's errors: the tokens the Client
// sent during one call (whole, or a piece of redactGram characters or more, in any letter case,
// also JSON-, URL- or HTML-escaped), and anything that looks like a credential: the value of an
// Authorization header, a long word after "Bearer", a JWT. A nil redactor knows no token and
// applies the generic rules only. One belongs to one call: it is not safe for concurrent use.
type redactor struct {
	secrets []redactSecret
	extra   [256]bool // word bytes that only the secrets use
}

// redactSecret is one token the Client sent.
type redactSecret struct {
	lower []byte // the token, ASCII letters lowered
	// grams is a filter of 65536 bits: the top 16 bits of the rolling hash of each redactGram
	// bytes of lower number a bit that is set. Built on first use.
	grams *[1 << 10]uint64
}

// gramBase is the base of the rolling hash of redactGram bytes: the sum of
// c[i]*gramBase^(redactGram-1-i), modulo 2^64.
const gramBase = 1099511628211

// eachGramHash calls f with the offset and the rolling hash of every redactGram-byte window of b,
// until f returns true.
func eachGramHash(b []byte, f func(k int, h uint64) bool) {
	leaving := uint64(1) // gramBase^redactGram: what the byte leaving the window weighs
	for i := 0; i < redactGram; i++ {
		leaving *= gramBase
	}
	var h uint64
	for i := 0; i < len(b); i++ {
		h = h*gramBase + uint64(b[i])
		if i >= redactGram {
			h -= uint64(b[i-redactGram]) * leaving
		}
		if i >= redactGram-1 && f(i-redactGram+1, h) {
			return
		}
	}
}

// add makes r redact token too.
func (r *redactor) add(token string) {
	if r == nil || token == "" {
		return
	}
	lower := lowerASCII([]byte(token))
	for _, s := range r.secrets {
		if bytes.Equal(s.lower, lower) {
			return
		}
	}
	r.secrets = append(r.secrets, redactSecret{lower: lower})
	for i := 0; i < len(lower); i++ {
		c := lower[i]
		if !redactWordByte(c) {
			r.extra[c] = true // not a letter: its letter case does not matter
		}
	}
}

// error returns err, or, when its message holds a credential, an error with the credential
// redacted that still matches what err matched with errors.Is. An *APIError is returned as it
// is: its fields are redacted when it is built (newAPIError).
func (r *redactor) error(err error) error {
	if err == nil {
		return nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return err
	}
	msg := err.Error()
	if clean := r.redact(msg); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}

// redactedError is an error whose message held a credential. It does not unwrap, so that no
// part of the original can print the credential; errors.Is still sees the original's chain.
type redactedError struct {
	msg string
	err error
}

// Error returns the redacted message.
func (e *redactedError) Error() string { return e.msg }

// Is reports whether the original error matches target.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// GoString keeps %#v from printing the original error.
func (e *redactedError) GoString() string {
	return fmt.Sprintf("&pcwebhook.redactedError{msg:%q}", e.msg)
}

// text returns s on one line (white space runs collapsed, invalid UTF-8 replaced) with every
// credential redacted, cut to about limit bytes on a character boundary, "..." marking the cut.
// The text is redacted before it is cut, so that the cut never leaves a piece of a token, and
// only as far as the limit needs: a long body costs little.
func (r *redactor) text(s string, limit int) string {
	for w := 2*limit + 64; w < len(s); w *= 2 {
		// A prefix that ends at white space cuts no word (escapes hold none) and no character,
		// so its redacted form is the start of the whole text's.
		if end := strings.LastIndexAny(s[:w], " \t\r\n\v\f"); end > 0 {
			if out := r.redact(oneLine(s[:end])); len(out) > limit {
				return cutText(out, limit)
			}
		}
	}
	return cutText(r.redact(oneLine(s)), limit)
}

// oneLine collapses white space runs (newlines included) into single spaces, trims, and replaces
// invalid UTF-8.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
}

// cutText truncates s to about n bytes without splitting a character.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// redact returns s with every credential replaced by redactedMark. The text is read twice: with
// escapes decoded, and as it is (for a token that holds '%', '&' or '\\' itself).
func (r *redactor) redact(s string) string {
	spans := append(r.find(s, true), r.find(s, false)...)
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	done := 0
	for _, sp := range spans {
		if sp[1] <= done {
			continue
		}
		if sp[0] >= done {
			b.WriteString(s[done:sp[0]])
			b.WriteString(redactedMark)
		}
		done = sp[1]
	}
	b.WriteString(s[done:])
	return b.String()
}

// find returns the byte ranges of s, in order, that hold a credential. With decode, escapes
// (JSON \/ and \uXXXX, URL %XX, HTML &#NN; and a few named entities) are read as the characters
// they stand for.
func (r *redactor) find(s string, decode bool) [][2]int {
	// The text as read, dec, with the offset in s where each of its bytes starts (int32: the
	// texts here, response bodies of at most 1 MiB and error messages, are far below 2 GiB).
	dec := make([]byte, 0, len(s))
	at := make([]int32, 0, len(s)+1)
	for i := 0; i < len(s); {
		c, n := s[i], 1
		if decode {
			c, n = decodeEscape(s, i)
		}
		dec = append(dec, c)
		at = append(at, int32(i))
		i += n
	}
	at = append(at, int32(len(s)))
	low := lowerASCII(bytes.Clone(dec))

	// The words: runs of the bytes tokens are made of.
	var words [][2]int
	for i := 0; i < len(dec); {
		if !r.wordByte(dec[i]) {
			i++
			continue
		}
		j := i
		for j < len(dec) && r.wordByte(dec[j]) {
			j++
		}
		words = append(words, [2]int{i, j})
		i = j
	}
	word := func(k int) []byte { return low[words[k][0]:words[k][1]] }
	gap := func(k int) []byte { return dec[words[k][1]:words[k+1][0]] } // between word k and k+1

	mark := make([]bool, len(words))
	for k, w := range words {
		lw := low[w[0]:w[1]]
		switch {
		case r.holdsSecret(lw), jwtLike(dec[w[0]:w[1]]):
			mark[k] = true
		case bytes.HasPrefix(lw, []byte("bearer+")) && len(lw) >= len("bearer+")+redactBearerMin: // form-encoded space
			mark[k] = true
		case k+1 < len(words) && string(lw) == "bearer" && onlySpace(gap(k)) && len(word(k+1)) >= redactBearerMin:
			mark[k+1] = true
		case k+1 < len(words) && bytes.HasSuffix(lw, []byte("authorization")) && headerSeparator(gap(k)):
			// "Authorization: <credential>" or "Authorization: <scheme> <credential>"
			switch {
			case !authScheme(word(k + 1)):
				mark[k+1] = true
			case k+2 < len(words) && onlySpace(gap(k+1)):
				mark[k+2] = true
			}
		}
	}
	var spans [][2]int
	for k, m := range mark {
		if m {
			spans = append(spans, [2]int{int(at[words[k][0]]), int(at[words[k][1]])})
		}
	}
	return spans
}

// holdsSecret reports whether the lowered word w is a token r knows, or holds a piece of one.
func (r *redactor) holdsSecret(w []byte) bool {
	if r == nil {
		return false
	}
	for i := range r.secrets {
		s := &r.secrets[i]
		switch {
		case len(s.lower) < redactShort:
			if bytes.Equal(w, s.lower) {
				return true
			}
		case len(s.lower) <= redactGram:
			if bytes.Contains(w, s.lower) {
				return true
			}
		case len(w) >= redactGram:
			if s.grams == nil {
				s.grams = new([1 << 10]uint64)
				eachGramHash(s.lower, func(_ int, h uint64) bool {
					s.grams[h>>54] |= 1 << (h >> 48 & 63)
					return false
				})
			}
			// The hash filter rules out almost every window; a hit is confirmed in the token.
			found := false
			eachGramHash(w, func(k int, h uint64) bool {
				found = s.grams[h>>54]&(1<<(h>>48&63)) != 0 && bytes.Contains(s.lower, w[k:k+redactGram])
				return found
			})
			if found {
				return true
			}
		}
	}
	return false
}

// wordByte reports whether c belongs to a word: the characters of an RFC 6750 bearer token
// (padding '=' aside, so that "access_token=" is not part of the token after it) and any other
// character of a known token.
func (r *redactor) wordByte(c byte) bool {
	return redactWordByte(c) || (r != nil && r.extra[c])
}

// redactWordByte reports whether c is a letter, a digit, or one of "-._~+/".
func redactWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

// onlySpace reports whether gap is white space only (and not empty).
func onlySpace(gap []byte) bool {
	return len(gap) > 0 && len(bytes.Trim(gap, " \t\r\n")) == 0
}

// headerSeparator reports whether gap separates a header name from its value, as in
// `Authorization: `, `"Authorization":"`, `Authorization=` or `map[Authorization:[`.
func headerSeparator(gap []byte) bool {
	return bytes.ContainsAny(gap, ":=") && len(bytes.Trim(gap, ":=\"' \t\r\n[{")) == 0
}

// authScheme reports whether the lowered word w is an HTTP authentication scheme.
func authScheme(w []byte) bool {
	switch string(w) {
	case "bearer", "basic", "digest", "negotiate", "ntlm", "pop":
		return true
	}
	return false
}

// jwtLike reports whether w holds a JSON Web Token: a base64url segment that starts "eyJ" (the
// encoding of `{"`), a dot, another base64url segment, a dot. It takes time linear in len(w).
func jwtLike(w []byte) bool {
	// Walk the dot-separated parts: part i-1's base64url tail holding "eyJ" with 10 characters
	// from there, then part i all base64url, followed by a dot.
	headerBefore := false // the part before this one ends in a JWT header
	for len(w) > 0 {
		part, rest, dotted := bytes.Cut(w, []byte("."))
		if !dotted {
			return false
		}
		n := base64URLRun(part)
		if headerBefore && n == len(part) && n >= 10 {
			return true
		}
		tail := part[len(part)-base64URLTail(part):]
		k := bytes.Index(tail, []byte("eyJ"))
		headerBefore = k >= 0 && len(tail)-k >= 10
		w = rest
	}
	return false
}

// base64URLRun returns how many bytes at the start of w are base64url characters.
func base64URLRun(w []byte) int {
	n := 0
	for n < len(w) && base64URLByte(w[n]) {
		n++
	}
	return n
}

// base64URLTail returns how many bytes at the end of w are base64url characters.
func base64URLTail(w []byte) int {
	n := 0
	for n < len(w) && base64URLByte(w[len(w)-1-n]) {
		n++
	}
	return n
}

// base64URLByte reports whether c is a base64url character.
func base64URLByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// decodeEscape reads the character at s[i], an escape sequence or a plain byte, and returns it
// (a character beyond ASCII as 0x80) with the number of bytes it takes.
func decodeEscape(s string, i int) (byte, int) {
	c := s[i]
	rest := s[i:]
	switch c {
	case '\\':
		if len(rest) < 2 {
			break
		}
		switch rest[1] {
		case '/', '\\', '"', '\'':
			return rest[1], 2
		case 'n', 'r', 't':
			return ' ', 2
		case 'u':
			if v, ok := parseHex(rest[2:], 4); ok {
				return asciiOr80(v), 6
			}
		}
	case '%':
		if v, ok := parseHex(rest[1:], 2); ok {
			return asciiOr80(v), 3
		}
	case '&':
		if strings.HasPrefix(rest, "&#") {
			digits, base := rest[2:], 10
			if len(digits) > 0 && (digits[0] == 'x' || digits[0] == 'X') {
				digits, base = digits[1:], 16
			}
			end := strings.IndexByte(digits[:min(len(digits), 8)], ';') // a bounded look: no quadratic time
			if end <= 0 {
				break
			}
			v, ok := 0, true
			for _, d := range []byte(digits[:end]) {
				h := hexValue(d)
				if h < 0 || h >= base {
					ok = false
					break
				}
				v = v*base + h
			}
			if ok {
				return asciiOr80(v), len(rest) - len(digits) + end + 1
			}
			break
		}
		if end := strings.IndexByte(rest[:min(len(rest), len("&equals;"))], ';'); end > 1 {
			if e := htmlEntity(strings.ToLower(rest[1:end])); e != 0 {
				return e, end + 1
			}
		}
	}
	return c, 1
}

// htmlEntity returns the character of a named HTML character reference (without '&' and ';')
// that matters here, or 0.
func htmlEntity(name string) byte {
	switch name {
	case "amp":
		return '&'
	case "quot":
		return '"'
	case "apos":
		return '\''
	case "lt":
		return '<'
	case "gt":
		return '>'
	case "sol":
		return '/'
	case "plus":
		return '+'
	case "equals":
		return '='
	case "colon":
		return ':'
	case "period":
		return '.'
	case "lowbar":
		return '_'
	case "nbsp":
		return ' '
	}
	return 0
}

// parseHex parses the first n bytes of s as hexadecimal.
func parseHex(s string, n int) (int, bool) {
	if len(s) < n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		h := hexValue(s[i])
		if h < 0 {
			return 0, false
		}
		v = v<<4 | h
	}
	return v, true
}

// hexValue returns the value of a hexadecimal digit, or -1.
func hexValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// asciiOr80 returns v as a byte when it is ASCII, else 0x80 (which belongs to no word).
func asciiOr80(v int) byte {
	if v >= 0 && v < 0x80 {
		return byte(v)
	}
	return 0x80
}

// lowerASCII lowers the ASCII letters of b, in place, and returns b.
func lowerASCII(b []byte) []byte {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return b
}
