package pcwebhook

// Misconfigure makes h answer as a Handler whose default Verifier could not be built, failing
// with err: the test machines have trust roots, so NewVerifier() does not fail there.
func Misconfigure(h *Handler, err error) {
	h.init()
	h.verifierErr = err
}
