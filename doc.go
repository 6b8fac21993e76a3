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
//     for its delivery, in every cloud.
//
// Package pcwebhooktest plays Partner Center in tests.
package pcwebhook
