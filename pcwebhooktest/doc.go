// Package pcwebhooktest plays Partner Center in tests, the way net/http/httptest plays a client
// or a server.
//
// A [Sender] owns a throwaway certificate authority (a root and an intermediate) and a signing
// certificate with O=Microsoft Corporation, serves that certificate from a loopback TLS server
// just as Partner Center's storage account does, and signs request bodies the way Partner Center
// does. [Sender.Verifier] returns a pcwebhook.Verifier that trusts only that sender, so a test
// exercises the real verification path, chain building included:
//
//	func TestInvoices(t *testing.T) {
//		sender := pcwebhooktest.New(t) // closed when the test ends
//		h := pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()))
//		h.OnInvoiceReady(...)
//		body := pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady, IDs: []string{"G000123456"}}.Body()
//		rec := sender.Deliver(h, body) // an *httptest.ResponseRecorder
//		...
//	}
//
// [EventSpec] builds a body with chosen IDs and date (each body a new event unless its Time is
// set); [SampleEvent] returns the documented sample of every event name. A [Delivery]
// ([Sender.Delivery]) is a signed body sent again byte for byte, as Partner Center retries: to a
// handler at a path, or to the URL of each replica. [WithValidity] fixes the certificates'
// validity for tests that fix the verifier's clock. [NewAPI] fakes the registration API, test
// events included, and the resources events name: [API.SampleEvent] returns a sample whose
// ResourceUri pcwebhook.Client.GetResource fetches from the fake. An application that trusts what the pcwebhook
// command-line tool sends in local development does so with package pcwebhookdev, which links
// no test code.
package pcwebhooktest
