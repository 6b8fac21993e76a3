package pcwebhook

import "crypto/x509"

// Misconfigure makes h answer as a Handler whose default Verifier could not be built, failing
// with err: the test machines have trust roots, so NewVerifier() does not fail there.
func Misconfigure(h *Handler, err error) {
	h.init()
	h.verifierErr = err
}

// WithSystemRoots makes the Handler's default Verifier load the system roots with load, so that
// a test can play a host without CA certificates.
func WithSystemRoots(load func() (*x509.CertPool, error)) HandlerOption {
	return func(h *Handler) {
		h.newVerifier = func() (*Verifier, error) {
			cfg := defaultConfig()
			cfg.systemRoots = load
			return newVerifier(cfg)
		}
	}
}

// WireEvent is the wire form ParseEvent decodes, for FuzzParseEventFastPath.
type WireEvent = wireEvent

// ParseWireFast is ParseEvent's reflection-free decoder, for FuzzParseEventFastPath.
func ParseWireFast(body []byte, w *WireEvent) bool { return parseWireFast(body, w) }

// VerificationSentinels are the sentinels Verify's errors wrap, for the fuzz targets.
var VerificationSentinels = verificationSentinels[:]

// ForgetVerifiedDeliveries empties the memo of verified deliveries of the cached entry of
// certURL, so that a benchmark can measure the first verification of each body again.
func ForgetVerifiedDeliveries(v *Verifier, certURL string) {
	st := v.state()
	if e, ok := st.keys.Get(certURL, st.cfg.now()); ok {
		for i := range e.memo.slots {
			e.memo.slots[i].Store(nil)
		}
	}
}
