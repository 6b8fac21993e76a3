package pcwebhook

import (
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook/internal/testio"
)

// Tokens of the redaction tests: a JWT and an opaque token with '/', '+' and '~'.
const (
	redactJWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2FwaS5wYXJ0bmVyY2VudGVyLm1pY3Jvc29mdC5jb20ifQ." +
		"c2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1sZWFr"
	redactOpaque = "Op4que+Tok/en_Wh1ch.Must~Never/Leak+0123456789abcdef"
)

// redactorOf returns a redactor that knows tokens.
func redactorOf(tokens ...string) *redactor {
	r := &redactor{}
	for _, t := range tokens {
		r.add(t)
	}
	return r
}

// leaked returns a piece of redactGram characters of token that s holds, as it is or once its
// JSON, URL and HTML escapes are decoded (ASCII letter case ignored), or "".
func leaked(s, token string) string {
	lowTok := string(lowerASCII([]byte(token)))
	n := min(redactGram, len(lowTok))
	for _, text := range []string{s, unescapeAll(s)} {
		low := string(lowerASCII([]byte(text)))
		for i := 0; i+n <= len(lowTok); i++ {
			if strings.Contains(low, lowTok[i:i+n]) {
				return token[i : i+n]
			}
		}
	}
	return ""
}

// escapePattern finds the escapes an echo may use: JSON \uXXXX and \/, URL %XX, HTML &#N; and
// &#xN;.
var escapePattern = regexp.MustCompile(`\\u[0-9a-fA-F]{4}|\\/|%[0-9a-fA-F]{2}|&#[xX][0-9a-fA-F]+;|&#[0-9]+;`)

// unescapeAll decodes the escapes escapePattern finds, independently of decodeEscape.
func unescapeAll(s string) string {
	return escapePattern.ReplaceAllStringFunc(s, func(e string) string {
		var v int64
		switch {
		case e == `\/`:
			return "/"
		case strings.HasPrefix(e, `\u`):
			v, _ = strconv.ParseInt(e[2:], 16, 32)
		case e[0] == '%':
			v, _ = strconv.ParseInt(e[1:], 16, 32)
		case e[2] == 'x' || e[2] == 'X':
			v, _ = strconv.ParseInt(e[3:len(e)-1], 16, 32)
		default:
			v, _ = strconv.ParseInt(e[2:len(e)-1], 10, 32)
		}
		return string(rune(v))
	})
}

func TestRedactKnownToken(t *testing.T) {
	for _, tok := range []string{redactJWT, redactOpaque} {
		jsonEsc := strings.NewReplacer("/", `\/`, "+", `\u002B`).Replace(tok)
		urlEsc := strings.NewReplacer("/", "%2f", "+", "%2B", "~", "%7E", ".", "%2E").Replace(tok)
		htmlEsc := strings.NewReplacer("/", "&#x2F;", "+", "&#43;", ".", "&period;").Replace(tok)
		for _, tc := range []struct{ name, in, want string }{
			{"alone", tok, "[REDACTED]"},
			{"at the start", tok + " was refused", "[REDACTED] was refused"},
			{"at the end", "refused: " + tok, "refused: [REDACTED]"},
			{"repeated", tok + "," + tok + " " + tok, "[REDACTED],[REDACTED] [REDACTED]"},
			{"glued to other text", `token="` + tok + `";` + tok + "xyz", `token="[REDACTED]";[REDACTED]`},
			{"after Bearer", "Authorization: Bearer " + tok, "Authorization: Bearer [REDACTED]"},
			{"JSON-escaped", `{"Authorization":"Bearer ` + jsonEsc + `"}`, `{"Authorization":"Bearer [REDACTED]"}`},
			{"URL-encoded", "?access_token=" + urlEsc + "&x=1", "?access_token=[REDACTED]&x=1"},
			{"HTML-escaped", "<pre>" + htmlEsc + "</pre>", "<pre>[REDACTED]</pre>"},
			{"upper case", "AUTHORIZATION: BEARER " + strings.ToUpper(tok), "AUTHORIZATION: BEARER [REDACTED]"},
			{"lower case", "bearer " + strings.ToLower(tok), "bearer [REDACTED]"},
			{"its start only", "header: " + tok[:24] + "...", "header: [REDACTED]"},
			{"a piece of its middle", "(" + tok[20:40] + ")", "([REDACTED])"},
			{"prose around it untouched", "The partner is not registered. " + tok + " Try again.",
				"The partner is not registered. [REDACTED] Try again."},
		} {
			got := redactorOf(tok).redact(tc.in)
			assert.Equal(t, tc.want, got, "%s (%.3s)", tc.name, tok)
			assert.Empty(t, leaked(got, tok), "%s (%.3s)", tc.name, tok)
		}
	}
}

func TestRedactWithoutAKnownToken(t *testing.T) {
	var r *redactor // the generic rules only
	for _, tc := range []struct{ in, want string }{
		{"Authorization: Bearer abc.def", "Authorization: Bearer [REDACTED]"},
		{"authorization=basic dXNlcjpwYXNz", "authorization=basic [REDACTED]"},
		{`{"Authorization":["Bearer xyz"]}`, `{"Authorization":["Bearer [REDACTED]"]}`},
		{"map[Accept:[application/json] Authorization:[Bearer s3cr3t]]", "map[Accept:[application/json] Authorization:[Bearer [REDACTED]]]"},
		{"Proxy-Authorization: opaque-value", "Proxy-Authorization: [REDACTED]"},
		{"sent Bearer 0123456789abcdefghij", "sent Bearer [REDACTED]"},
		{"form Bearer+0123456789abcdefghij", "form [REDACTED]"},
		{"a JWT " + redactJWT + " inside", "a JWT [REDACTED] inside"},
		// "Bearer" without a credential, and prose, stay as they are.
		{"Bearer", "Bearer"},
		{"Authorization: Bearer", "Authorization: Bearer"},
		{`WWW-Authenticate: Bearer realm="api", error="invalid_token"`, `WWW-Authenticate: Bearer realm="api", error="invalid_token"`},
		{"a Bearer token is required", "a Bearer token is required"},
		{"authorization failed for this partner", "authorization failed for this partner"},
		{"eyJ alone is not a JWT, nor is eyJabc.def", "eyJ alone is not a JWT, nor is eyJabc.def"},
		{"nor eyJ0eXAiOiJKV1QiLCJh.eyJhdWQiOiJo without its second dot", "nor eyJ0eXAiOiJKV1QiLCJh.eyJhdWQiOiJo without its second dot"},
		{"unsigned eyJ0eXAiOiJKV1QiLCJh.eyJhdWQiOiJo. and glued x.y/eyJ0eXAiOiJKV1QiLCJh.eyJhdWQiOiJo.c2ln",
			"unsigned [REDACTED] and glued [REDACTED]"},
		{"", ""},
	} {
		assert.Equal(t, tc.want, r.redact(tc.in), tc.in)
	}
}

func TestRedactShortAndUnusualTokens(t *testing.T) {
	// A token shorter than redactShort is redacted as a whole word only.
	assert.Equal(t, "partner center: [REDACTED] refused, not t2", redactorOf("t").redact("partner center: t refused, not t2"))
	// From redactShort to redactGram characters: wherever it is inside a word.
	assert.Equal(t, "x [REDACTED] y", redactorOf("the-token").redact("x pre-THE-TOKEN-post y"))
	// Characters no bearer token uses are part of the token's words.
	odd := `abc:def!ghi"0123456789{}`
	assert.Equal(t, "got [REDACTED] here", redactorOf(odd).redact("got "+odd+" here"))
	// Characters that start an escape are matched as they are, and decoded.
	esc := `p%41ss&amp;w\/rd0123456789abcdef`
	for _, in := range []string{esc, `p%2541ss&amp;amp;w\\/rd0123456789abcdef`} {
		got := redactorOf(esc).redact("got " + in + " here")
		assert.Equal(t, "got [REDACTED] here", got, in)
	}
}

func TestRedactTextStaysBounded(t *testing.T) {
	r := redactorOf(redactJWT)
	// The texts are hundreds of times the limit; with PCWEBHOOK_STRESS=1, eight times longer
	// still (about a megabyte each).
	k := testio.Count(1, 8)
	long := strings.Repeat("filler ", k<<14)
	for _, tc := range []struct{ name, in string }{
		{"token at the start", redactJWT + " " + long},
		{"token at the end", long + redactJWT},
		{"token everywhere", strings.Repeat(redactJWT+" x ", k*500)},
		{"token where the text is cut", strings.Repeat("a", 280) + " " + redactJWT + " " + long},
		{"one long word", strings.Repeat("w", k<<17)},
		{"tokens glued into one long word", strings.Repeat(redactJWT, k*375)},
		{"a long word of JWT headers", strings.Repeat("eyJ", k<<15) + "." + strings.Repeat("eyJhbGciOi.", k<<12)},
		{"many headers", strings.Repeat("Authorization: Bearer ", k<<12)},
		{"many escapes", strings.Repeat(`\u0041%41&#65;&amp;`, k<<11)},
		{"escape starts without an end", strings.Repeat("&#", k<<16) + strings.Repeat("&", k<<16)},
	} {
		got := r.text(tc.in, apiMaxErrorBody)
		assert.LessOrEqual(t, len(got), apiMaxErrorBody+len("..."), tc.name)
		assert.Empty(t, leaked(got, redactJWT), tc.name)
		assert.Equal(t, cutText(r.redact(oneLine(tc.in)), apiMaxErrorBody), got, "%s: the same as redacting the whole text", tc.name)
	}
	assert.Equal(t, "[REDACTED] filler filler", r.text(redactJWT+"\n\tfiller   filler ", 100))
}

func TestRedactedErrorKeepsErrorsIs(t *testing.T) {
	cause := errors.New("refused")
	err := fmt.Errorf("proxy: Authorization: Bearer %s: %w", redactJWT, cause)
	red := redactorOf(redactJWT).error(err)
	assert.Equal(t, "proxy: Authorization: Bearer [REDACTED]: refused", red.Error())
	assert.ErrorIs(t, red, cause)
	assert.Nil(t, errors.Unwrap(red), "the original, which prints the token, is not reachable")
	assert.Empty(t, leaked(fmt.Sprintf("%#v", red), redactJWT))

	clean := errors.New("connection refused")
	assert.Same(t, clean, redactorOf(redactJWT).error(clean), "an error without a credential is kept as it is")
	apiErr := &APIError{StatusCode: 400, Message: "Authorization: (none)"}
	assert.Same(t, apiErr, redactorOf(redactJWT).error(apiErr), "an APIError is redacted when it is built")
	assert.NoError(t, redactorOf(redactJWT).error(nil))
}

// encodeRandomly writes each character of tok in one of the ways an echo may carry it: as it is,
// in the other letter case, JSON-, URL- or HTML-escaped.
func encodeRandomly(rng *rand.Rand, tok string) string {
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch rng.Intn(8) {
		case 0:
			fmt.Fprintf(&b, `\u%04x`, c)
		case 1:
			fmt.Fprintf(&b, "%%%02X", c)
		case 2:
			fmt.Fprintf(&b, "&#x%x;", c)
		case 3:
			fmt.Fprintf(&b, "&#%d;", c)
		case 4:
			b.WriteString(strings.ToUpper(string(c)))
		case 5:
			if c == '/' {
				b.WriteString(`\/`)
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// redactNoise are pieces of the text around a token: words, separators, escape starts, headers.
var redactNoise = []string{" ", "  ", "\n", "\t", "x", "abc", "\"", "'", ":", "=", ";", ",", "{", "}", "[", "]", "\\", "%", "&",
	"#", "&#", "%2", `\u00`, "Bearer ", "Authorization: ", "authorization=", "é", "\xff", "<pre>", "</pre>", "eyJ", "."}

// checkRedactText asserts what text promises for an input holding tok: no piece of tok, the
// length bound, and the same result as redacting the whole text before cutting it.
func checkRedactText(t *testing.T, r *redactor, tok, in string, limit int) {
	t.Helper()
	got := r.text(in, limit)
	if p := leaked(got, tok); p != "" {
		t.Fatalf("text(%q, %d) = %q holds %q", in, limit, got, p)
	}
	if len(got) > limit+len("...") {
		t.Fatalf("text(%q, %d) is %d bytes long", in, limit, len(got))
	}
	if whole := cutText(r.redact(oneLine(in)), limit); got != whole {
		t.Fatalf("text(%q, %d) = %q, redacting the whole text gives %q", in, limit, got, whole)
	}
}

func TestRedactRandomEchoes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	noise := func() string {
		var b strings.Builder
		for n := rng.Intn(12); n > 0; n-- {
			b.WriteString(redactNoise[rng.Intn(len(redactNoise))])
		}
		return b.String()
	}
	for i := 0; i < testio.Count(500, 3000); i++ { // FuzzRedactText explores further
		tok := []string{redactJWT, redactOpaque}[i%2]
		r := redactorOf(tok)
		var in strings.Builder
		for n := 1 + rng.Intn(3); n > 0; n-- {
			in.WriteString(noise())
			in.WriteString(encodeRandomly(rng, tok))
			in.WriteString(noise())
		}
		checkRedactText(t, r, tok, in.String(), 20+rng.Intn(400))
	}
}

func FuzzRedactText(f *testing.F) {
	f.Add("Authorization: Bearer ", " rest", uint8(0), uint16(300))
	f.Add(`{"a":"`, `\"}`, uint8(1), uint16(10))
	f.Add("%", "&#", uint8(2), uint16(1000))
	f.Fuzz(func(t *testing.T, before, after string, seed uint8, limit uint16) {
		tok := []string{redactJWT, redactOpaque}[seed%2]
		in := before + encodeRandomly(rand.New(rand.NewSource(int64(seed))), tok) + after
		checkRedactText(t, redactorOf(tok), tok, in, 1+int(limit%2000))
	})
}

func TestRedactorAddsEachTokenOnce(t *testing.T) {
	r := &redactor{}
	r.add("")
	r.add(redactJWT)
	r.add(strings.ToUpper(redactJWT))
	r.add(redactOpaque)
	require.Len(t, r.secrets, 2)
	assert.Equal(t, "[REDACTED] [REDACTED]", r.redact(redactJWT+" "+redactOpaque), "a call whose token changed between attempts")
	var none *redactor
	none.add(redactJWT) // a nil redactor learns nothing, and does not panic
	assert.Equal(t, "abc", none.redact("abc"))
}

// BenchmarkRedactLongBody measures the APIError of a 1 MiB error body that echoes the token
// throughout, against one of an ordinary short body.
func BenchmarkRedactLongBody(b *testing.B) {
	header := http.Header{}
	for _, bc := range []struct{ name, body string }{
		{"short body", `{"code":600008,"description":"The partner is not registered for webhooks.","errorName":"RegistrationNotFound"}`},
		{"1MiB text echoing the token", strings.Repeat("Authorization: Bearer "+redactJWT+"\r\n", (1<<20)/(len(redactJWT)+24))},
		{"1MiB JSON description echoing the token", `{"description":"` + strings.Repeat(`Authorization: Bearer `+redactJWT+`\n`, (1<<20)/(len(redactJWT)+24)) + `"}`},
		{"1MiB single word", strings.Repeat("eyJ", (1<<20)/3)},
		{"1MiB of unended escapes", strings.Repeat("&#%\\", (1<<20)/4)},
	} {
		body := []byte(bc.body)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var e *APIError
			for i := 0; i < b.N; i++ {
				r := &redactor{}
				r.add(redactJWT)
				e = newAPIError(http.StatusBadGateway, header, body, "c", "r", r)
			}
			if p := leaked(e.Message, redactJWT); p != "" {
				b.Fatalf("%q holds %q", e.Message, p)
			}
		})
	}
}
