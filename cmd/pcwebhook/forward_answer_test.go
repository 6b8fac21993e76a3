package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestForwardAnswerMeaning: each answer of the app says what Partner Center would do with it: a
// 2xx acknowledges, a 4xx loses the event (no retry), a 5xx is retried; a refused signature
// points at the Verifier's trust, the development CA with --dev.
func TestForwardAnswerMeaning(t *testing.T) {
	dev, prod := &forwarder{dev: true}, &forwarder{}
	assert.Empty(t, dev.forwardMeaning(http.StatusOK))
	assert.Empty(t, dev.forwardMeaning(http.StatusNoContent))
	assert.Contains(t, dev.forwardMeaning(http.StatusUnauthorized), "development CA")
	assert.Contains(t, prod.forwardMeaning(http.StatusForbidden), "Partner Center's certificate")
	for _, s := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusMethodNotAllowed,
		http.StatusRequestEntityTooLarge, http.StatusConflict} {
		assert.Contains(t, prod.forwardMeaning(s), "Partner Center does not retry: this event would be lost", s)
	}
	assert.Contains(t, prod.forwardMeaning(http.StatusNotFound), "check --forward's path")
	for _, s := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		assert.Contains(t, prod.forwardMeaning(s), "Partner Center retries", s)
		assert.NotContains(t, prod.forwardMeaning(s), "lost", s)
	}
	assert.Contains(t, prod.forwardMeaning(http.StatusFound), "does not retry")
}
