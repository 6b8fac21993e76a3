package pcwebhook

import "time"

// Outcome names what the Handler did with a request. It is the "outcome" attribute of the
// Handler's log line and the Outcome of a [Result].
type Outcome string

// The outcomes, with the status each is answered with.
const (
	OutcomeHandled                Outcome = "handled"                  // 200: the callbacks returned nil
	OutcomeNoCallback             Outcome = "acknowledged-no-callback" // 200: no callback for the event
	OutcomeDuplicate              Outcome = "duplicate-acknowledged"   // 200: the same body was handled already
	OutcomeInProgress             Outcome = "duplicate-in-progress"    // 503: the same body is being handled now
	OutcomeMethodNotAllowed       Outcome = "method-not-allowed"       // 405
	OutcomeBodyTooLarge           Outcome = "body-too-large"           // 413
	OutcomeBodyUnreadable         Outcome = "body-unreadable"          // 400
	OutcomeUnverified             Outcome = "verification-failed"      // 401
	OutcomeCertificateUnavailable Outcome = "certificate-unavailable"  // 503
	OutcomeMalformedEvent         Outcome = "malformed-event"          // 400
	OutcomeEventTooOld            Outcome = "event-too-old"            // 400, with WithMaxEventAge
	OutcomeCallbackError          Outcome = "callback-error"           // 500
	OutcomeCallbackPanic          Outcome = "callback-panic"           // 500
	OutcomeDedupeStoreError       Outcome = "dedupe-store-error"       // 503
	OutcomeMisconfigured          Outcome = "misconfigured"            // 500: the default Verifier could not be built
)

// Result is what the Handler did with one request, as given to the function of [WithObserver].
type Result struct {
	// Event is the decoded event; nil when the request was refused before it was decoded
	// (method, size, verification). Duplicates carry their event too.
	Event *Event
	// Status is the HTTP status answered.
	Status int
	// Outcome names what happened.
	Outcome Outcome
	// Err is why the request failed: a *VerificationError, an error wrapping ErrMalformedEvent,
	// ErrBodyTooLarge, the callback's error... It is nil on success.
	Err error
	// Duration is the time from the start of ServeHTTP to the answer.
	Duration time.Duration
}
