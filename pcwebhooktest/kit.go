package pcwebhooktest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnercenter-go/pcwebhook"
)

// New returns a started [Sender] for a test, as httptest.NewServer returns a server: it fails tb
// when the certificates cannot be made, and closes the Sender when the test and its subtests
// end (tb.Cleanup).
func New(tb testing.TB, opts ...SenderOption) *Sender {
	tb.Helper()
	s, err := NewSender(opts...)
	if err != nil {
		tb.Fatalf("pcwebhooktest.New: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Request returns a POST of body to target carrying the headers of [Sender.Sign], ready for an
// http.Handler's ServeHTTP, the way httptest.NewRequest makes one: target is a path such as
// "/webhooks" or an absolute URL, and a target that does not parse panics.
func (s *Sender) Request(target string, body []byte) *http.Request {
	return s.Delivery(body).Request(target)
}

// Deliver serves a signed POST of body to h at the path "/", in this goroutine, and returns the
// recorded response: what Partner Center would have been answered. A Handler mounted on a mux at
// another path gets it with s.Delivery(body).Deliver(mux, "/webhooks/partner-center")
// ([Delivery.Deliver]). Delivering the same body again is a retried delivery: the same bytes and
// signature.
func (s *Sender) Deliver(h http.Handler, body []byte) *httptest.ResponseRecorder {
	return s.Delivery(body).Deliver(h, "/")
}

// EventSpec describes the body of one delivery. Its zero fields take the documented sample's
// values ([SampleEvent]), except Time.
type EventSpec struct {
	// Name is the EventName, such as pcwebhook.EventSubscriptionUpdated.
	Name pcwebhook.EventName
	// IDs replace, in order, the IDs of the sample's ResourceUri: for subscription-updated
	// (.../customers/{CustomerId}/subscriptions/{SubscriptionId}) the customer's, then the
	// subscription's. An empty string keeps that sample ID; more IDs than the ResourceUri holds
	// make Body panic.
	IDs []string
	// ResourceURI replaces the whole ResourceUri (IDs are then ignored).
	ResourceURI string
	// AuditURI sets the AuditUri (default null).
	AuditURI string
	// Time is the ResourceChangeUtcDate. A zero Time makes every Body distinct: the current time,
	// moved on by at least 100ns (the precision Partner Center writes) from the last such
	// body of this process. Set it to get the same bytes again, as a retried delivery does.
	Time time.Time
	// APIRoot, when set, replaces the scheme and host of a ResourceUri and an AuditUri on
	// Partner Center's API host (pcwebhook.GlobalAPIRoot): [API.URL] puts them on a fake API, so
	// that pcwebhook.Client.GetResource of the API's client may GET them. URIs on other hosts
	// (the GDAP events' partner.microsoft.com) are kept.
	APIRoot string
}

// lastTime is the last ResourceChangeUtcDate given to a zero EventSpec.Time.
var lastTime struct {
	sync.Mutex
	t time.Time
}

// uniqueTime returns the current time, after every earlier uniqueTime at 100ns precision.
func uniqueTime() time.Time {
	lastTime.Lock()
	defer lastTime.Unlock()
	t := time.Now().UTC().Truncate(100 * time.Nanosecond)
	if !t.After(lastTime.t) {
		t = lastTime.t.Add(100 * time.Nanosecond)
	}
	lastTime.t = t
	return t
}

// Body returns the JSON body the spec describes, in Partner Center's layout (as [SampleEvent]).
func (e EventSpec) Body() []byte {
	at := e.Time
	if at.IsZero() {
		at = uniqueTime()
	}
	b := sampleBody(e.Name, at)
	switch {
	case e.ResourceURI != "":
		uri := e.ResourceURI
		b.ResourceURI = &uri
	case len(e.IDs) > 0:
		if b.ResourceURI == nil {
			panic(fmt.Sprintf("pcwebhooktest: EventSpec: %s has no ResourceUri to put IDs in", e.Name))
		}
		uri := replaceIDs(*b.ResourceURI, e.IDs, e.Name)
		b.ResourceURI = &uri
	}
	if e.AuditURI != "" {
		audit := e.AuditURI
		b.AuditURI = &audit
	}
	if e.APIRoot != "" {
		for _, uri := range []*string{b.ResourceURI, b.AuditURI} {
			if uri != nil {
				*uri = rebase(*uri, e.APIRoot)
			}
		}
	}
	return b.encode()
}

// rebase returns uri with root in place of Partner Center's API root (in either scheme, in any
// letter case), and any other uri as it is.
func rebase(uri, root string) string {
	host := strings.TrimPrefix(pcwebhook.GlobalAPIRoot, "https://")
	for _, scheme := range []string{"https://", "http://"} {
		prefix := scheme + host
		if len(uri) >= len(prefix) && strings.EqualFold(uri[:len(prefix)], prefix) &&
			(len(uri) == len(prefix) || strings.ContainsRune("/?#", rune(uri[len(prefix)]))) {
			return strings.TrimSuffix(root, "/") + uri[len(prefix):]
		}
	}
	return uri
}

// replaceIDs replaces the GUID path segments of uri, in order, with the non-empty ids.
func replaceIDs(uri string, ids []string, name pcwebhook.EventName) string {
	segs := strings.Split(uri, "/")
	next := 0
	for i, seg := range segs {
		if next == len(ids) {
			break
		}
		if !isGUID(seg) {
			continue
		}
		if ids[next] != "" {
			segs[i] = ids[next]
		}
		next++
	}
	if next < len(ids) {
		panic(fmt.Sprintf("pcwebhooktest: EventSpec: %d IDs given, but the ResourceUri of %s holds %d", len(ids), name, next))
	}
	return strings.Join(segs, "/")
}

// isGUID reports whether s has the 8-4-4-4-12 hexadecimal form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}
