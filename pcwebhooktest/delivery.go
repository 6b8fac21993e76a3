package pcwebhooktest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
)

// Delivery is one delivery as it goes over the wire: the exact body bytes and the request
// headers signed for them. Partner Center retries a delivery with the same bytes and the same
// signature, and a Handler's DedupeStore knows it by its bytes: send one Delivery twice, to one
// receiver or to replicas that share a store, to test that the callbacks do not run again once
// they succeeded (the second answer is a 200 "already handled").
//
// [Sender.Delivery] signs one. A Delivery made by hand, from headers and a body captured
// elsewhere ("pcwebhook listen --save") or altered to test a refusal, is sent as it is: nothing
// is signed again. Every request made from a Delivery has its own copy of Header.
type Delivery struct {
	// Header is the request's header: the signature headers and Content-Type.
	Header http.Header
	// Body is the request's body, sent byte for byte.
	Body []byte
}

// Delivery returns body with the headers of [Sender.Sign], signed once, to be sent as often as a
// test needs.
func (s *Sender) Delivery(body []byte) Delivery {
	return Delivery{Header: s.Sign(body), Body: body}
}

// Request returns a POST of d to target, ready for an http.Handler's ServeHTTP, the way
// httptest.NewRequest makes one: target is a path such as "/webhooks/partner-center" or an
// absolute URL, and a target that does not parse panics.
func (d Delivery) Request(target string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(d.Body))
	for k, vs := range d.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	return req
}

// Deliver serves d to h as a POST to target (see [Delivery.Request]), in this goroutine, and
// returns the recorded response: what Partner Center would have been answered. Call it again for
// a retried delivery.
func (d Delivery) Deliver(h http.Handler, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, d.Request(target))
	return rec
}

// Send POSTs d to url with client (nil: a new http.Client), exactly: the body byte for byte,
// with d.Header. Call it again, or with the URL of each replica, for a retried delivery. The
// caller must close the response body.
func (d Delivery) Send(ctx context.Context, client *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.Body))
	if err != nil {
		return nil, fmt.Errorf("pcwebhooktest: Send: %w", err)
	}
	for k, vs := range d.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if client == nil {
		client = &http.Client{}
	}
	return client.Do(req)
}
