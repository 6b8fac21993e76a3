// Package pcwebhooktest plays Partner Center in tests, the way net/http/httptest plays a client
// or a server.
//
// A [Sender] owns a throwaway certificate authority (a root and an intermediate) and a signing
// certificate with O=Microsoft Corporation, serves that certificate from a loopback TLS server
// just as Partner Center's storage account does, and signs request bodies the way Partner Center
// does. [Sender.Verifier] returns a pcwebhook.Verifier that trusts only that sender, so a test
// exercises the real verification path, chain building included:
//
//	sender, err := pcwebhooktest.NewSender()
//	if err != nil { t.Fatal(err) }
//	defer sender.Close()
//	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()))
//	srv := httptest.NewServer(h)
//	defer srv.Close()
//	resp, err := sender.Send(ctx, srv.URL, pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated))
//
// [SampleEvent] returns a body of the documented shape for every event name.
package pcwebhooktest
