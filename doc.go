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
// The contract of the callbacks (their context, what their answer means, what they may keep,
// registration while serving, slow work) is stated once, on [Handler].
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
