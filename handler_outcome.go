package pcwebhook

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Outcome names what the Handler did with a request. It is the "outcome" attribute of the
// Handler's log line and the Outcome of a [Result]. The values are stable (dashboards and alerts
// use them); the status each one is answered with is the README's status table, and
// [HTTPStatus] gives it for an error.
type Outcome string

// The outcomes.
const (
	// OutcomeHandled: the callbacks ran and returned nil.
	OutcomeHandled Outcome = "handled"
	// OutcomeNoCallback: the event is genuine but no callback is registered for it.
	OutcomeNoCallback Outcome = "acknowledged-no-callback"
	// OutcomeDuplicate: the same body was handled already; the callbacks did not run again.
	OutcomeDuplicate Outcome = "duplicate-acknowledged"
	// OutcomeDuplicateInProgress: the same body is being handled right now, by this process or by
	// a replica sharing the DedupeStore; Partner Center retries later.
	OutcomeDuplicateInProgress Outcome = "duplicate-in-progress"
	// OutcomeMethodNotAllowed: the method is not POST.
	OutcomeMethodNotAllowed Outcome = "method-not-allowed"
	// OutcomeBodyTooLarge: the body is larger than WithMaxBodyBytes.
	OutcomeBodyTooLarge Outcome = "body-too-large"
	// OutcomeBodyUnreadable: reading the body failed (the sender went away).
	OutcomeBodyUnreadable Outcome = "body-unreadable"
	// OutcomeVerificationFailed: the request is not proven to come from Partner Center: missing
	// or garbled signature headers, a certificate URL outside the allow-list, a signature that
	// does not match. The sender's fault.
	OutcomeVerificationFailed Outcome = "verification-failed"
	// OutcomeCertificateUnavailable: the signing certificate (or an issuer) could not be
	// downloaded now; Partner Center retries.
	OutcomeCertificateUnavailable Outcome = "certificate-unavailable"
	// OutcomeCertificatePolicyFailed: the certificate served from an allow-listed URL fails this
	// receiver's policy (no trust roots, a wrong clock, a certificate Microsoft changed). Only
	// Microsoft can put a file there, so the fix is on the receiving side; Partner Center
	// retries meanwhile. It is a [VerificationError] whose Transient is true that is not
	// ErrCertificateUnavailable.
	OutcomeCertificatePolicyFailed Outcome = "certificate-policy-failed"
	// OutcomeSignatureUnconfirmed: the signature matches no cached certificate key, and the
	// certificate could not be downloaded again now to tell a forgery from a certificate replaced
	// at its URL ([ErrSignatureUnconfirmed]). Answered 503 so that a genuine delivery is retried
	// (and verified once the new certificate is cached); logged at WARN, since forged requests
	// end here too and must not page anyone.
	OutcomeSignatureUnconfirmed Outcome = "signature-unconfirmed"
	// OutcomeMalformedEvent: the body is genuinely signed but is not a valid event.
	OutcomeMalformedEvent Outcome = "malformed-event"
	// OutcomeEventTooOld: the event's ResourceChangeUtcDate is further from now than
	// WithMaxEventAge, in the past or in the future, or missing.
	OutcomeEventTooOld Outcome = "event-too-old"
	// OutcomeCallbackError: a callback returned an error; Partner Center retries.
	OutcomeCallbackError Outcome = "callback-error"
	// OutcomeCallbackPanic: a callback panicked (logged with its stack); Partner Center retries.
	OutcomeCallbackPanic Outcome = "callback-panic"
	// OutcomeDedupeStoreError: the DedupeStore could not claim the delivery; the callbacks did
	// not run and Partner Center retries.
	OutcomeDedupeStoreError Outcome = "dedupe-store-error"
	// OutcomeMisconfigured: the Handler's default Verifier could not be built (see the error).
	OutcomeMisconfigured Outcome = "misconfigured"
	// OutcomeNotCommitted: the callbacks succeeded but the DedupeStore could not commit their
	// effects with the delivery's record ([ErrNotCommitted]): nothing of them remains, and
	// Partner Center retries.
	OutcomeNotCommitted Outcome = "not-committed"
)

// Result is what the Handler did with one request, as given to the function of [WithObserver].
type Result struct {
	// Event is the decoded event; nil when the request was refused before it was decoded
	// (method, size, verification). Duplicates carry their event too.
	Event *Event
	// Status is the HTTP status answered; HTTPStatus(Err) gives the same.
	Status int
	// Outcome names what happened.
	Outcome Outcome
	// Err is why the request was not acknowledged with 200: a *VerificationError, an error
	// wrapping ErrMalformedEvent or ErrBodyTooLarge, the callback's error (errors.Is finds it)...
	// It is nil when the status is 200.
	Err error
	// Duration is the time from the start of ServeHTTP to the answer.
	Duration time.Duration
	// DeliveryKey is the delivery's key in the DedupeStore (the hex SHA-256 of the body); empty
	// when the request was refused before it was verified.
	DeliveryKey string
}

// EventLabelUnknown is what [Result.EventLabel] returns for an event whose name this version does
// not know.
const EventLabelUnknown = "unknown"

// EventLabel returns the event's name as a metric label with a bounded set of values: the name of
// a documented event, EventLabelUnknown for any other name (a sender cannot create series at
// will), and "" when the request was refused before its event was decoded.
func (r Result) EventLabel() string {
	switch {
	case r.Event == nil:
		return ""
	case r.Event.Name.Known():
		return string(r.Event.Name)
	}
	return EventLabelUnknown
}

// HTTPStatus returns the status the Handler answers for err: for an error of ParseRequest,
// Verify or ParseEvent, and for a Result's Err. nil is 200. 4xx means the sender is at fault
// and Partner Center does not retry; 5xx means the failure is the receiver's and it retries: a
// *VerificationError is 503 when Transient (the certificate is unavailable or fails this
// receiver's policy, or the signature could not be confirmed yet) and 401 otherwise; an error it
// does not know is 500. The README's status
// table lists every answer.
func HTTPStatus(err error) int { return classify(err).status }

// Retry-After values (seconds) of the answers that ask Partner Center to retry.
const (
	retryAfterCertificate = "60"
	retryAfterInProgress  = "30"
	retryAfterStore       = "30"
)

// The errors of the Handler's own stages, so that classify sees every way a request ends.
var (
	// errDuplicate and errNoCallback end a request with 200 without running callbacks: they are
	// acknowledgements, not failures (Result.Err is nil for them).
	errDuplicate  = errors.New("pcwebhook: already handled")
	errNoCallback = errors.New("pcwebhook: no callback registered")

	errMethodNotAllowed = errors.New("pcwebhook: method not allowed: use POST")
	errInProgress       = errors.New("pcwebhook: the same delivery is being handled now")
	errDedupeStore      = errors.New("pcwebhook: dedupe store failed")
	errNotCommitted     = errors.New("pcwebhook: dedupe store could not commit the delivery")
	errMisconfigured    = errors.New("pcwebhook: receiver misconfigured")
	errEventAge         = errors.New("pcwebhook: event date outside WithMaxEventAge")
)

// callbackError is a callback's failure: its error, or its panic. It unwraps to the callback's
// error, so errors.Is finds it, but classify reads it first: whatever the callback's error wraps
// (even ErrMalformedEvent), the answer is 500 and Partner Center retries.
type callbackError struct {
	event    EventName
	err      error
	panicked bool
}

func (e *callbackError) Error() string {
	if e.panicked {
		return fmt.Sprintf("pcwebhook: callback for %s panicked: %v", e.event, e.err)
	}
	return fmt.Sprintf("pcwebhook: callback for %s failed: %v", e.event, e.err)
}

func (e *callbackError) Unwrap() error { return e.err }

// verdict is how the Handler answers and logs one way a request ends.
type verdict struct {
	status     int
	outcome    Outcome
	level      slog.Level // of the request's log line
	retryAfter string     // Retry-After header, for 503
	body       string     // the answer's text; "" echoes the error (only for signed bodies)
	fix        string     // what the operator should do, logged with the ERROR line
}

// classify is the Handler's status table, the only one in the code: it decides status, outcome
// and log level from the error a request ended with (nil: the callbacks succeeded). Successful
// deliveries log at DEBUG, so a default setup stays quiet and cheap; the sender's faults (4xx:
// not retried) at WARN; ours (5xx: retried) at ERROR, with the fix.
func classify(err error) verdict {
	switch err {
	case nil:
		return verdict{status: http.StatusOK, outcome: OutcomeHandled, level: slog.LevelDebug, body: "ok\n"}
	case errNoCallback:
		return verdict{status: http.StatusOK, outcome: OutcomeNoCallback, level: slog.LevelDebug, body: "ok\n"}
	case errDuplicate:
		return verdict{status: http.StatusOK, outcome: OutcomeDuplicate, level: slog.LevelDebug, body: "already handled\n"}
	}
	return classifyFailure(err)
}

// classifyFailure is classify for the errors that are not acknowledgements. It is apart so that
// its errors.As targets are allocated on the failure path only.
func classifyFailure(err error) verdict {
	var cbErr *callbackError
	var verr *VerificationError
	switch {
	// The Handler's own stages come first: their errors may wrap anything (a callback's error,
	// the reason NewVerifier failed).
	case errors.As(err, &cbErr):
		o := OutcomeCallbackError
		if cbErr.panicked {
			o = OutcomeCallbackPanic
		}
		return verdict{status: http.StatusInternalServerError, outcome: o, level: slog.LevelError, body: "callback failed, retry later\n"}
	case errors.Is(err, errMisconfigured):
		return verdict{status: http.StatusInternalServerError, outcome: OutcomeMisconfigured, level: slog.LevelError, body: "receiver misconfigured\n",
			fix: "NewVerifier failed (see the error): fix it, or pass WithVerifier"}
	case errors.Is(err, errInProgress):
		return verdict{status: http.StatusServiceUnavailable, outcome: OutcomeDuplicateInProgress, level: slog.LevelInfo,
			retryAfter: retryAfterInProgress, body: "being handled, retry later\n"}
	case errors.Is(err, ErrNotCommitted):
		return verdict{status: http.StatusServiceUnavailable, outcome: OutcomeNotCommitted, level: slog.LevelError,
			retryAfter: retryAfterStore, body: "temporarily unavailable, retry later\n",
			fix: "the DedupeStore rolled the callbacks' effects back (commit failed, connection lost, or the callbacks outlived the lease): check the database, and keep callbacks shorter than the lease"}
	case errors.Is(err, errDedupeStore):
		return verdict{status: http.StatusServiceUnavailable, outcome: OutcomeDedupeStoreError, level: slog.LevelError,
			retryAfter: retryAfterStore, body: "temporarily unavailable, retry later\n",
			fix: "the DedupeStore could not claim the delivery: check that it is reachable"}
	case errors.Is(err, errMethodNotAllowed):
		return verdict{status: http.StatusMethodNotAllowed, outcome: OutcomeMethodNotAllowed, level: slog.LevelWarn, body: "method not allowed: use POST\n"}

	case errors.Is(err, ErrBodyTooLarge):
		return verdict{status: http.StatusRequestEntityTooLarge, outcome: OutcomeBodyTooLarge, level: slog.LevelWarn, body: "body too large\n"}
	case errors.Is(err, ErrBodyUnreadable):
		return verdict{status: http.StatusBadRequest, outcome: OutcomeBodyUnreadable, level: slog.LevelWarn, body: "body unreadable\n"}

	// Verification: Transient decides between ours (503, retried) and the sender's (401).
	case verificationOf(err, &verr) && verr.Transient():
		if errors.Is(verr.Err, ErrSignatureUnconfirmed) {
			return verdict{status: http.StatusServiceUnavailable, outcome: OutcomeSignatureUnconfirmed, level: slog.LevelWarn,
				retryAfter: retryAfterCertificate, body: "signature not confirmed yet, retry later\n"}
		}
		if errors.Is(verr.Err, ErrCertificateUnavailable) {
			return verdict{status: http.StatusServiceUnavailable, outcome: OutcomeCertificateUnavailable, level: slog.LevelError,
				retryAfter: retryAfterCertificate, body: "signing certificate unavailable, retry later\n", fix: verr.Fix()}
		}
		return verdict{status: http.StatusServiceUnavailable, outcome: OutcomeCertificatePolicyFailed, level: slog.LevelError,
			retryAfter: retryAfterCertificate, body: "signing certificate not accepted by this receiver, retry later\n", fix: verr.Fix()}
	case verr != nil:
		return verdict{status: http.StatusUnauthorized, outcome: OutcomeVerificationFailed, level: slog.LevelWarn, body: "unauthorized\n"}

	case errors.Is(err, ErrMalformedEvent):
		return verdict{status: http.StatusBadRequest, outcome: OutcomeMalformedEvent, level: slog.LevelWarn}
	case errors.Is(err, errEventAge):
		return verdict{status: http.StatusBadRequest, outcome: OutcomeEventTooOld, level: slog.LevelWarn}
	}
	// Anything else is the receiver's: 500, so that Partner Center retries. The Handler itself
	// never gets here (a callback's error is a callbackError); HTTPStatus does for foreign errors.
	return verdict{status: http.StatusInternalServerError, outcome: OutcomeCallbackError, level: slog.LevelError, body: "internal error, retry later\n"}
}

// verificationSentinels are the sentinels Verify's errors wrap.
var verificationSentinels = [...]error{ErrMissingSignature, ErrMissingCertificateURL, ErrUnsupportedAlgorithm,
	ErrUntrustedCertificateURL, ErrCertificateUnavailable, ErrUntrustedCertificate, ErrBadSignature,
	ErrSignatureUnconfirmed, ErrCertificateNotFound}

// verificationOf sets *verr to the *VerificationError in err, or, for a bare sentinel of Verify
// (no *VerificationError), to one that wraps it: both answer alike, by the same Transient.
func verificationOf(err error, verr **VerificationError) bool {
	if errors.As(err, verr) {
		return true
	}
	for _, s := range verificationSentinels {
		if errors.Is(err, s) {
			*verr = &VerificationError{Err: s}
			return true
		}
	}
	return false
}
