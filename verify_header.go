package pcwebhook

import (
	"crypto"
	"encoding/base64"
	"strings"
)

// The request headers Partner Center signs with, in canonical form (http.Header keys).
const (
	// HeaderAuthorization carries "Signature <base64>" by default.
	HeaderAuthorization = "Authorization"
	// HeaderMSSignature carries the same token instead of Authorization when the registration
	// has SignatureTokenToMsSignatureHeader set; it is seen with and without the "Signature "
	// scheme.
	HeaderMSSignature = "X-Ms-Signature"
	// HeaderCertificateURL names where the signing certificate can be downloaded.
	HeaderCertificateURL = "X-Ms-Certificate-Url"
	// HeaderSignatureAlgorithm names the signature algorithm; only "rsa-sha256" is accepted.
	HeaderSignatureAlgorithm = "X-Ms-Signature-Algorithm"
)

// signatureScheme is the Authorization scheme of Partner Center signatures.
const signatureScheme = "Signature"

// maxSignatureChars bounds the base64 signature: 1368 characters hold an 8192-bit RSA signature.
const maxSignatureChars = 1368

// headerValues returns the values of the header named by the canonical key. http.Header built by
// net/http or with Set/Add always uses canonical keys, and then this is one map lookup. A map
// written by hand may hold other spellings (such as "x-ms-signature"), even beside the canonical
// one; when spellings says so, every key equal to key in any letter case contributes its values,
// so that one header under two spellings counts as two values: ambiguous, and refused.
func headerValues(h httpHeader, key string, spellings bool) []string {
	if !spellings {
		return h[key]
	}
	var out []string
	for k, vs := range h {
		if strings.EqualFold(k, key) {
			out = append(out, vs...)
		}
	}
	return out
}

// otherSpellings reports whether h has a key that spells one of the signature headers other than
// canonically. It is one pass over the keys comparing lengths, so that the common case (every key
// canonical, as net/http makes them) keeps to plain map lookups.
func otherSpellings(h httpHeader) bool {
	for k := range h {
		var canonical string
		switch len(k) {
		case len(HeaderAuthorization):
			canonical = HeaderAuthorization
		case len(HeaderMSSignature):
			canonical = HeaderMSSignature
		case len(HeaderCertificateURL):
			canonical = HeaderCertificateURL
		case len(HeaderSignatureAlgorithm):
			canonical = HeaderSignatureAlgorithm
		default:
			continue
		}
		if k != canonical && strings.EqualFold(k, canonical) {
			return true
		}
	}
	return false
}

// signatureToken returns the base64 signature of the request: from Authorization when it uses
// the Signature scheme (any letter case), otherwise from x-ms-signature, with or without the
// scheme. More than one value of either header is refused, since it is ambiguous (two keys that
// differ only in letter case count as two values).
func signatureToken(h httpHeader, spellings bool) (string, string) {
	if vs := headerValues(h, HeaderAuthorization, spellings); len(vs) > 0 {
		if len(vs) > 1 {
			return "", "more than one Authorization header"
		}
		if tok, ok := cutScheme(vs[0]); ok {
			if tok == "" {
				return "", "empty signature"
			}
			return tok, ""
		}
	}
	vs := headerValues(h, HeaderMSSignature, spellings)
	switch len(vs) {
	case 0:
		return "", "no Authorization Signature or x-ms-signature header"
	case 1:
	default:
		return "", "more than one x-ms-signature header"
	}
	tok := trimOWS(vs[0])
	if t, ok := cutScheme(tok); ok {
		tok = t
	}
	if tok == "" {
		return "", "empty signature"
	}
	return tok, ""
}

// cutScheme splits "Signature <token>" (scheme in any letter case, one or more spaces or tabs),
// returning the token and whether the scheme was present.
func cutScheme(v string) (string, bool) {
	v = trimOWS(v)
	if len(v) < len(signatureScheme) || !strings.EqualFold(v[:len(signatureScheme)], signatureScheme) {
		return "", false
	}
	rest := v[len(signatureScheme):]
	if rest == "" {
		return "", true
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", false // "SignatureXYZ" is not the scheme
	}
	return trimOWS(rest), true
}

// trimOWS removes HTTP optional white space (spaces and tabs) around v.
func trimOWS(v string) string {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// httpHeader is http.Header, spelled as a map so that lookups with the canonical keys above
// need no canonicalization on the hot path.
type httpHeader = map[string][]string

// signatureHash checks X-MS-Signature-Algorithm and returns the hash of the RSA PKCS#1 v1.5
// signature it names. Only rsa-sha256 is allowed; there is deliberately no fallback for unknown
// values.
func signatureHash(h httpHeader, spellings bool) (crypto.Hash, string) {
	vs := headerValues(h, HeaderSignatureAlgorithm, spellings)
	switch len(vs) {
	case 0:
		return 0, "no X-MS-Signature-Algorithm header"
	case 1:
	default:
		return 0, "more than one X-MS-Signature-Algorithm header"
	}
	if strings.EqualFold(trimOWS(vs[0]), "rsa-sha256") {
		return crypto.SHA256, ""
	}
	return 0, "algorithm not allowed (only rsa-sha256 is)"
}

// certificateURLHeader returns the single X-MS-Certificate-Url value.
func certificateURLHeader(h httpHeader, spellings bool) (string, string) {
	vs := headerValues(h, HeaderCertificateURL, spellings)
	switch len(vs) {
	case 0:
		return "", "no X-MS-Certificate-Url header"
	case 1:
	default:
		return "", "more than one X-MS-Certificate-Url header"
	}
	v := trimOWS(vs[0])
	if v == "" {
		return "", "empty X-MS-Certificate-Url header"
	}
	return v, ""
}

// decodeSignature decodes standard base64 with or without padding into buf when it is large
// enough (no allocation), or into a new slice.
func decodeSignature(tok string, buf []byte) ([]byte, bool) {
	if len(tok) > maxSignatureChars {
		return nil, false
	}
	enc := base64.StdEncoding
	if len(tok)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	n := enc.DecodedLen(len(tok))
	if n > len(buf) {
		buf = make([]byte, n)
	}
	m, err := enc.Decode(buf[:n], []byte(tok))
	if err != nil || m == 0 {
		return nil, false
	}
	return buf[:m], true
}
