// Package pcwebhook receives Microsoft Partner Center webhooks safely and manages their
// registration.
//
// The parts, in the order a delivery meets them:
//
//   - [Handler] is an http.Handler to mount on your mux. It reads the request with a size limit,
//     verifies it, decodes it, drops Partner Center's retries of deliveries already handled, and
//     calls the typed callback registered for the event (one On<Event> method per documented
//     event, such as [Handler.OnSubscriptionUpdated]). Its status codes make Partner Center retry
//     exactly when the failure is on the receiving side.
//   - [Verifier] checks a delivery the documented way (certificate download from an allow-list,
//     chain, organization, RSA signature over the raw body), with cached certificates, bounded
//     reads and timeouts. [ParseRequest] verifies and decodes one request without the Handler.
//   - [ParseEvent] decodes a body into an [Event]; [Event.Typed] gives the typed struct of its
//     family with the IDs parsed from the ResourceUri. It tolerates the quirks real payloads
//     have, and unknown event names decode too, so events Partner Center adds later are never
//     rejected.
//   - [Client] calls the webhook registration API: register, update, send a test event and wait
//     for its delivery, in every cloud. [Client.GetResource] fetches the resource an event names
//     (its ResourceUri) with the same token, retries and errors.
//
// Package pcwebhooktest plays Partner Center in tests.
//
// # Callbacks
//
// The Handler runs the callbacks of a delivery (OnAny first, then the event's On<Event> callback
// or OnUnknown) on the request's goroutine, one after the other, and answers only when they have
// returned. What a callback may rely on:
//
//   - Context: ctx is the request's context. It is cancelled when Partner Center hangs up (and
//     when ServeHTTP returns); the Handler adds no deadline of its own, so the server's timeouts
//     and Partner Center's patience are the only limits. Pass ctx to the calls you make.
//   - Answer: nil acknowledges the event (200). An error, or a panic (recovered and logged with
//     its stack), answers 500: the delivery is released from deduplication and Partner Center
//     retries it with the same body.
//   - The event: the callback may keep it, Raw included, after it returns. The Handler reads each
//     body into a new buffer that it never reuses; the same memory is handed to every callback
//     of the delivery (the typed structs embed a copy of the Event, not of Raw), so do not modify
//     it.
//   - Registration: one callback per event, per OnAny and per OnUnknown. A second registration
//     replaces the first, and the Handler logs a WARN naming the event, because two
//     registrations usually mean one is a mistake; nil removes a callback. Registering is safe
//     while the Handler serves: a delivery runs the callbacks registered when its first one starts.
//   - Slow work: Partner Center does not document how long it waits for an answer, and a slow
//     answer risks a timeout and a retry, so work slower than a request goes through a queue.
//     Enqueue the event (Raw is the exact, verified body; ParseEvent decodes it again in the
//     worker) in a durable queue, and return nil only once the enqueue succeeded; return its
//     error otherwise. The worker may see an event twice, so its work must be idempotent. See
//     the example of Handler (queueHandOff).
//
// # Deduplication
//
// Partner Center delivers at least once and retries with the identical body. The Handler keys
// each verified delivery on the SHA-256 of its body and claims it in its [DedupeStore] before
// running the callbacks: a retry of a delivery whose callbacks succeeded is acknowledged without
// running them, and a retry that arrives while they run is answered 503.
//
// The guarantee is about callback runs: a delivery's callbacks succeed at most once while the
// store remembers it (7 days by default), except when they outlive the claim's lease (another
// delivery of the same body may then take over) or the process dies between their success and
// the store's Done (the retry runs them again). What a callback wrote before such a failure
// stays, so effects are exactly-once only with a transactional store, a [ClaimContexter] that
// commits the callbacks' writes together with the delivery's record. With the default in-memory
// store (per process, forgotten on restart) or a shared one such as the redisdedupe module's,
// keep the effects idempotent.
package pcwebhook
