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
