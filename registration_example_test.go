package pcwebhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/partnercenter-go/pcwebhook"
)

// registrationAPI stands in for the Partner Center registration API in the examples: GET answers
// the registration current, a write (PUT) is echoed, as Partner Center does.
func registrationAPI(current string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			fmt.Fprint(w, current)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Write(body)
	}))
}

// DiffRegistrations shows what replacing the account's one registration would change, before
// anything is sent.
func ExampleDiffRegistrations() {
	current := &pcwebhook.Registration{ // as client.Registration(ctx) returns it
		WebhookURL:    "https://partner.example/webhooks",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated, pcwebhook.EventTestCreated},
	}
	diff := pcwebhook.DiffRegistrations(current, pcwebhook.Registration{
		WebhookURL:    "https://abc123.tunnel.example/webhooks",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated},
	})
	fmt.Println(diff)
	fmt.Println("disruptive:", diff.Disruptive())
	// Output:
	// url:    https://partner.example/webhooks -> https://abc123.tunnel.example/webhooks
	// events: - subscription-updated
	// header: Authorization (unchanged)
	// disruptive: true
}

// Plan, show, approve, apply: the safe way to change the account's one registration. Here an
// httptest server stands in for the Partner Center API, with production's registration.
func ExampleClient_PlanRegistration() {
	api := registrationAPI(`{"WebhookUrl":"https://prod.example/hook","WebhookEvents":["subscription-updated","test-created"]}`)
	defer api.Close()
	client := pcwebhook.NewClient(pcwebhook.StaticToken("example-token"), pcwebhook.WithAPIRoot(api.URL))
	ctx := context.Background()

	plan, err := client.PlanRegistration(ctx, pcwebhook.Registration{
		WebhookURL:    "https://abc.tunnel.example/hook",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(plan)

	// Without the option, a disruptive change is refused and nothing is written.
	_, _, err = client.ApplyRegistrationPlan(ctx, plan)
	fmt.Println(errors.Is(err, pcwebhook.ErrDisruptiveChange))

	approved := true // ask a person here, showing plan.Disruption()
	if plan.Disruptive() && approved {
		// Written only if the registration is still plan.Before.
		reg, _, err := client.ApplyRegistrationPlan(ctx, plan, pcwebhook.AllowDisruptive())
		if err != nil {
			panic(err)
		}
		fmt.Println("now", reg.WebhookURL)
	}
	// Output:
	// url:    https://prod.example/hook -> https://abc.tunnel.example/hook
	// events: - subscription-updated
	// header: Authorization (unchanged)
	// true
	// now https://abc.tunnel.example/hook
}

// EnsureRegistrationChanges reports what it changed. Here an httptest server stands in for the
// Partner Center API, with a registration that lacks invoice-ready.
func ExampleClient_EnsureRegistrationChanges() {
	api := registrationAPI(`{"WebhookUrl":"https://partner.example/webhooks","WebhookEvents":["test-created"]}`)
	defer api.Close()

	client := pcwebhook.NewClient(pcwebhook.StaticToken("example-token"), pcwebhook.WithAPIRoot(api.URL))
	_, diff, err := client.EnsureRegistrationChanges(context.Background(), pcwebhook.Registration{
		WebhookURL:    "https://partner.example/webhooks",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated, pcwebhook.EventInvoiceReady},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(diff.Changed(), diff.AddedEvents, diff.RemovedEvents)
	// Output: true [invoice-ready] []
}

// EnsureRegistration refuses to move the registration or drop events: the account has one
// registration, and another program may rely on it. A deployment that really means to move it
// says so with AllowDisruptive.
func ExampleClient_EnsureRegistrationWith() {
	api := registrationAPI(`{"WebhookUrl":"https://prod.example/hook","WebhookEvents":["subscription-updated"]}`)
	defer api.Close()
	client := pcwebhook.NewClient(pcwebhook.StaticToken("example-token"), pcwebhook.WithAPIRoot(api.URL))
	ctx := context.Background()
	moved := pcwebhook.Registration{
		WebhookURL:    "https://new-prod.example/hook",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated},
	}

	_, err := client.EnsureRegistration(ctx, moved)
	var refused *pcwebhook.RegistrationChangeError
	if errors.Is(err, pcwebhook.ErrDisruptiveChange) && errors.As(err, &refused) {
		fmt.Println("refused:", refused.Diff.Disruption())
	}

	reg, _, err := client.EnsureRegistrationWith(ctx, moved, pcwebhook.AllowDisruptive())
	if err != nil {
		panic(err)
	}
	fmt.Println("now", reg.WebhookURL)
	// Output:
	// refused: moves every delivery from https://prod.example/hook to https://new-prod.example/hook
	// now https://new-prod.example/hook
}

// Plain http webhook URLs are refused, since Partner Center would send events in clear; the
// option allows them by name.
func ExampleWithInsecureWebhookURL() {
	strict := pcwebhook.NewClient(pcwebhook.StaticToken("t"))
	_, err := strict.Register(context.Background(), pcwebhook.Registration{WebhookURL: "http://partner.example/hook"})
	fmt.Println(errors.Is(err, pcwebhook.ErrInvalidInput))

	loose := pcwebhook.NewClient(pcwebhook.StaticToken("t"), pcwebhook.WithInsecureWebhookURL())
	_ = loose // loose.Register(ctx, ...) sends the http URL
	// Output: true
}

// TokenSourceFunc adapts any function, for example a credential of another library, to a
// TokenSource.
func ExampleTokenSourceFunc() {
	tokens := pcwebhook.TokenSourceFunc(func(ctx context.Context) (string, error) {
		return "token-from-your-credential", nil // e.g. cred.GetToken(ctx, ...)
	})
	client := pcwebhook.NewClient(tokens)
	_ = client
	tok, _ := tokens.Token(context.Background())
	fmt.Println(tok)
	// Output: token-from-your-credential
}

// Acting on an event: GET its ResourceURI with the registration client's token, retries and
// errors. Here a TLS httptest server stands in for the Partner Center API; the event names it with
// http://, as the documents' examples do, and the request goes as https.
func ExampleClient_GetResource() {
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"7c1d","status":"active","quantity":5,"scheme":%q}`, map[bool]string{true: "https", false: "http"}[r.TLS != nil])
	}))
	defer api.Close()

	client := pcwebhook.NewClient(pcwebhook.StaticToken("example-token"), // production: a refreshing TokenSource
		pcwebhook.WithAPIRoot(api.URL),               // production: leave out (GlobalAPIRoot)
		pcwebhook.WithClientHTTPClient(api.Client()), // trusts the test server's certificate
	)
	ev := pcwebhook.Event{ // as an OnSubscriptionUpdated callback receives it
		Name:        pcwebhook.EventSubscriptionUpdated,
		ResourceURI: "http://" + api.Listener.Addr().String() + "/webhooks/v1/customers/4b2a/subscriptions/7c1d",
	}
	var sub struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Quantity int    `json:"quantity"`
		Scheme   string `json:"scheme"`
	}
	if err := client.GetResource(context.Background(), ev.ResourceURI, &sub); err != nil {
		panic(err)
	}
	fmt.Println(sub.ID, sub.Status, sub.Quantity, "over", sub.Scheme)

	// A URI on any other host is refused before anything is sent: the token stays home.
	err := client.GetResource(context.Background(), "https://partner.microsoft.com/granularAdminRelationships/9f2e", nil)
	fmt.Println(errors.Is(err, pcwebhook.ErrForeignResourceURI))
	// Output:
	// 7c1d active 5 over https
	// true
}
