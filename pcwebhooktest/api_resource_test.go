package pcwebhooktest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// resource is the part of a resource the tests decode.
type resource struct {
	ID    string `json:"id"`
	Links struct {
		Self struct {
			URI string `json:"uri"`
		} `json:"self"`
	} `json:"links"`
}

// TestAPISampleEventResources: for every documented event, the API's sample names a resource the
// API's client may GET and the API serves; the GDAP events' (Graph) and the DAP events' (none)
// are refused as in production.
func TestAPISampleEventResources(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil, pcwebhooktest.WithAPITLS())
	client := api.NewClient(pcwebhook.WithRetryPolicy(pcwebhook.RetryPolicy{MaxAttempts: 1}))
	ctx := context.Background()
	for _, name := range pcwebhook.KnownEventNames() {
		t.Run(string(name), func(t *testing.T) {
			ev, err := pcwebhook.ParseEvent(api.SampleEvent(name))
			require.NoError(t, err)
			documented, err := pcwebhook.ParseEvent(pcwebhooktest.SampleEvent(name))
			require.NoError(t, err)
			assert.Equal(t, documented.IDs(), ev.IDs(), "the same IDs as the documented sample")
			assert.Equal(t, documented.ResourceChangeUTCDate, ev.ResourceChangeUTCDate)

			var got resource
			err = client.GetResource(ctx, ev.ResourceURI, &got)
			switch {
			case ev.ResourceURI == "":
				assert.ErrorIs(t, err, pcwebhook.ErrInvalidInput, "DAP events carry no ResourceUri")
			case strings.HasPrefix(ev.ResourceURI, "https://partner.microsoft.com/"):
				assert.ErrorIs(t, err, pcwebhook.ErrForeignResourceURI, "GDAP resources are Graph's")
			case name == pcwebhook.EventTestCreated:
				var apiErr *pcwebhook.APIError
				require.ErrorAs(t, err, &apiErr, "the sample's correlation ID is not a test event the API sent")
				assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
			default:
				require.NoError(t, err)
				assert.True(t, strings.HasPrefix(ev.ResourceURI, api.URL()+"/"), ev.ResourceURI)
				path := strings.TrimPrefix(ev.ResourceURI, api.URL())
				assert.Equal(t, path, got.Links.Self.URI)
				assert.Equal(t, path[strings.LastIndexByte(path, '/')+1:], got.ID)
				assert.Equal(t, "GET "+path, api.Requests()[len(api.Requests())-1])

				// The documented sample names Partner Center's host, which the API's client refuses.
				err = client.GetResource(ctx, documented.ResourceURI, nil)
				assert.ErrorIs(t, err, pcwebhook.ErrForeignResourceURI)
			}
		})
	}
}

// TestAPISetResource: a resource's JSON is set for its path, on any host, until removed; Respond
// takes a ResourceURI too, for a one-time answer before it.
func TestAPISetResource(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil, pcwebhooktest.WithAPIToken("secret"))
	client := pcwebhook.NewClient(pcwebhook.StaticToken("secret"), pcwebhook.WithAPIRoot(api.URL()),
		pcwebhook.WithRetryPolicy(pcwebhook.RetryPolicy{MaxAttempts: 1}))
	ctx := context.Background()
	ev, err := pcwebhook.ParseEvent(api.SampleEvent(pcwebhook.EventSubscriptionUpdated))
	require.NoError(t, err)
	var sub struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Quantity int    `json:"quantity"`
	}

	// Set with the documented URI (Partner Center's host): the path is what counts.
	api.SetResource(strings.Replace(ev.ResourceURI, api.URL(), pcwebhook.GlobalAPIRoot, 1), `{"id":"s-1","status":"suspended","quantity":3}`)
	for i := 0; i < 2; i++ {
		require.NoError(t, client.GetResource(ctx, ev.ResourceURI, &sub))
		assert.Equal(t, "suspended", sub.Status, "every GET")
		assert.Equal(t, 3, sub.Quantity)
	}

	api.Respond(http.MethodGet, ev.ResourceURI, http.StatusNotFound, `{"code":"NotFound","description":"gone"}`)
	err = client.GetResource(ctx, ev.ResourceURI, &sub)
	var apiErr *pcwebhook.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
	require.NoError(t, client.GetResource(ctx, ev.ResourceURI, &sub), "the canned answer was used once")
	assert.Equal(t, "suspended", sub.Status)

	api.SetResource(ev.ResourceURI, "")
	sub.Status = ""
	require.NoError(t, client.GetResource(ctx, ev.ResourceURI, &sub))
	assert.Empty(t, sub.Status, "removed: the default resource again")
	assert.Equal(t, "cb9a54ce-b00e-5491-b23d-a456f44f2858", sub.ID)

	// Any path, even one no event names; the token is still required.
	api.SetResource("/v1/invoices/I-1/lineitems", `{"totalCount":0}`)
	var items struct {
		TotalCount *int `json:"totalCount"`
	}
	require.NoError(t, client.GetResource(ctx, api.URL()+"/v1/invoices/I-1/lineitems", &items))
	require.NotNil(t, items.TotalCount)
	wrong := pcwebhook.NewClient(pcwebhook.StaticToken("guess"), pcwebhook.WithAPIRoot(api.URL()),
		pcwebhook.WithRetryPolicy(pcwebhook.RetryPolicy{MaxAttempts: 1}))
	require.ErrorAs(t, wrong.GetResource(ctx, ev.ResourceURI, nil), &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)

	// Paths no event names are not served, nor other methods on resource paths.
	err = client.GetResource(ctx, api.URL()+"/v1/no-such/thing", nil)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
	req, err := http.NewRequest(http.MethodPost, ev.ResourceURI, strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := api.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestEventSpecAPIRoot: APIRoot moves the ResourceUri and AuditUri off Partner Center's host, and
// only those.
func TestEventSpecAPIRoot(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct{ resource, audit, wantResource, wantAudit string }{
		{"", "", "http://127.0.0.1:1/webhooks/v1/customers/c-1/subscriptions/s-1", ""},
		{"HTTP://API.PartnerCenter.Microsoft.com/v1/invoices/I-1?x=1", "https://api.partnercenter.microsoft.com/audit/a-1",
			"http://127.0.0.1:1/v1/invoices/I-1?x=1", "http://127.0.0.1:1/audit/a-1"},
		{"https://api.partnercenter.microsoft.com.evil.example/v1/x", "https://api.partnercenter.microsoft.com:8443/y",
			"https://api.partnercenter.microsoft.com.evil.example/v1/x", "https://api.partnercenter.microsoft.com:8443/y"},
		{"https://partner.microsoft.com/granularAdminRelationships/g-1", "https://api.partnercenter.microsoft.com",
			"https://partner.microsoft.com/granularAdminRelationships/g-1", "http://127.0.0.1:1"},
	} {
		ev, err := pcwebhook.ParseEvent(pcwebhooktest.EventSpec{
			Name: pcwebhook.EventSubscriptionUpdated, IDs: []string{"c-1", "s-1"}, Time: at,
			ResourceURI: tc.resource, AuditURI: tc.audit, APIRoot: "http://127.0.0.1:1/",
		}.Body())
		require.NoError(t, err)
		assert.Equal(t, tc.wantResource, ev.ResourceURI)
		assert.Equal(t, tc.wantAudit, ev.AuditURI)
	}
}

// TestAPITestEventNamesTheAPI: the test event the API sends names its own validation status,
// which a receiver's callback can GET with the API's client, as a service's test event names the
// service's.
func TestAPITestEventNamesTheAPI(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil)
	client := api.NewClient()
	var mu sync.Mutex
	var statuses []*pcwebhook.ValidationStatus
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(api.Sender().Verifier()))
	h.OnTestCreated(func(ctx context.Context, e *pcwebhook.TestEvent) error {
		var st pcwebhook.ValidationStatus
		if err := client.GetResource(ctx, e.ResourceURI, &st); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		statuses = append(statuses, &st)
		return nil
	})
	rcv := httptest.NewTLSServer(h) // the API's own sender trusts httptest's TLS servers
	defer rcv.Close()
	ctx := context.Background()
	_, err := client.Register(ctx, pcwebhook.Registration{WebhookURL: rcv.URL, WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated}})
	require.NoError(t, err)
	id, err := client.SendTestEvent(ctx)
	require.NoError(t, err)
	st, err := client.WaitForValidation(ctx, id, 10*time.Millisecond)
	require.NoError(t, err)
	require.True(t, st.Delivered(), "%+v", st)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, statuses, 1)
	assert.Equal(t, id, statuses[0].CorrelationID, "the callback read its own test event's status")
}

// TestStartAPI: outside a test, StartAPI returns the API, and Close also closes the sender it made.
func TestStartAPI(t *testing.T) {
	api, err := pcwebhooktest.StartAPI(nil)
	require.NoError(t, err)
	sender := api.Sender()
	_, err = api.NewClient().SupportedEvents(context.Background())
	require.NoError(t, err)
	api.Close()
	api.Close()
	_, err = sender.Client().Get(sender.CertificateURL())
	assert.Error(t, err, "the sender was closed with the API")

	given := pcwebhooktest.New(t)
	api, err = pcwebhooktest.StartAPI(given)
	require.NoError(t, err)
	api.Close()
	resp, err := given.Client().Get(given.CertificateURL())
	require.NoError(t, err, "a sender given is the caller's: still open")
	resp.Body.Close()
}
