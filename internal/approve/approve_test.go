package approve

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

var (
	production = &pcwebhook.Registration{WebhookURL: "https://prod.example/hook",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated, pcwebhook.EventTestCreated}}
	tunnel = pcwebhook.DiffRegistrations(production, pcwebhook.Registration{WebhookURL: "https://abc.tunnel.example/hook",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated}})
	added = pcwebhook.DiffRegistrations(production, pcwebhook.Registration{WebhookURL: production.WebhookURL,
		WebhookEvents: append([]pcwebhook.EventName{pcwebhook.EventInvoiceReady}, production.WebhookEvents...)})
)

const why = "This change moves every delivery from https://prod.example/hook to https://abc.tunnel.example/hook, " +
	"and stops 1 event(s): subscription-updated, for every program of the account"

func TestApprove(t *testing.T) {
	ask := func(interactive bool, in string, plan pcwebhook.RegistrationDiff, yes bool) (bool, string) {
		var out bytes.Buffer
		ok := Asker{Program: "prog", In: strings.NewReader(in), Out: &out, Interactive: interactive}.Approve(plan, yes)
		return ok, out.String()
	}
	t.Run("not disruptive: no question", func(t *testing.T) {
		ok, out := ask(false, "", added, false)
		assert.True(t, ok)
		assert.Empty(t, out)
		ok, out = ask(true, "", pcwebhook.DiffRegistrations(nil, *production), false)
		assert.True(t, ok, "creating")
		assert.Empty(t, out)
	})
	t.Run("--yes: no question", func(t *testing.T) {
		ok, out := ask(false, "", tunnel, true)
		assert.True(t, ok)
		assert.Empty(t, out)
	})
	t.Run("no terminal: refused, says why and names --yes", func(t *testing.T) {
		ok, out := ask(false, "y\n", tunnel, false)
		assert.False(t, ok, "an answer on a pipe does not count")
		assert.Equal(t, "prog: not changed. "+why+", and there is no terminal to confirm it on "+
			"(standard input and standard error must both be one). Run again with --yes to apply it.\n", out)
		assert.NotContains(t, out, "[y/N]")
	})
	for _, answer := range []string{"y\n", "YES\n", " y ", "y"} {
		t.Run("terminal: confirmed with "+strings.TrimSpace(answer), func(t *testing.T) {
			ok, out := ask(true, answer, tunnel, false)
			assert.True(t, ok)
			assert.Equal(t, why+".\nApply it? [y/N] ", out)
		})
	}
	for _, answer := range []string{"n\n", "\n", "yy\n"} {
		t.Run("terminal: declined with "+strings.TrimSpace(answer), func(t *testing.T) {
			ok, out := ask(true, answer, tunnel, false)
			assert.False(t, ok)
			assert.Equal(t, why+".\nApply it? [y/N] prog: not changed: not confirmed (answer y to apply it, or run again with --yes).\n", out)
		})
	}
	t.Run("terminal at end of input", func(t *testing.T) {
		ok, out := ask(true, "", tunnel, false)
		assert.False(t, ok)
		assert.Equal(t, why+".\nApply it? [y/N] \nprog: not changed: no answer (end of input). "+
			"Run again with --yes to apply it without asking.\n", out, "the refusal starts on a line of its own")
	})
	t.Run("terminal read error", func(t *testing.T) {
		var out bytes.Buffer
		ok := Asker{Program: "prog", In: iotest.ErrReader(os.ErrClosed), Out: &out, Interactive: true}.Approve(tunnel, false)
		assert.False(t, ok)
		assert.Contains(t, out.String(), "--yes")
	})
	t.Run("zero Asker", func(t *testing.T) {
		assert.False(t, Asker{}.Approve(tunnel, false))
		assert.True(t, Asker{}.Approve(added, false))
	})
}

// Apply writes an approved plan, and nothing when it is refused or the registration changed after
// the plan was made.
func TestApply(t *testing.T) {
	ctx := context.Background()
	sender := pcwebhooktest.New(t)
	plan := func(t *testing.T, want pcwebhook.Registration) (*pcwebhooktest.API, *pcwebhook.Client, pcwebhook.RegistrationDiff) {
		api := pcwebhooktest.NewAPI(t, sender)
		api.SetRegistration(*production)
		c := api.NewClient()
		p, err := c.PlanRegistration(ctx, want)
		require.NoError(t, err)
		return api, c, p
	}
	const regPath = "/webhooks/v1/registration"
	t.Run("refused", func(t *testing.T) {
		api, c, p := plan(t, tunnel.After)
		var out bytes.Buffer
		_, _, err := Asker{Program: "prog", Out: &out}.Apply(ctx, c, p, false)
		assert.ErrorIs(t, err, ErrNotChanged)
		assert.Contains(t, out.String(), "--yes")
		assert.Equal(t, []string{"GET " + regPath}, api.Requests())
	})
	t.Run("approved", func(t *testing.T) {
		api, c, p := plan(t, tunnel.After)
		reg, now, err := Asker{Program: "prog"}.Apply(ctx, c, p, true)
		require.NoError(t, err)
		assert.Equal(t, tunnel.After.WebhookURL, reg.WebhookURL)
		assert.True(t, now.Disruptive())
		assert.Equal(t, []string{"GET " + regPath, "GET " + regPath, "PUT " + regPath}, api.Requests())
	})
	t.Run("not disruptive", func(t *testing.T) {
		api, c, p := plan(t, added.After)
		_, _, err := Asker{Program: "prog"}.Apply(ctx, c, p, false)
		require.NoError(t, err)
		assert.Equal(t, []string{"GET " + regPath, "GET " + regPath, "PUT " + regPath}, api.Requests())
	})
	t.Run("changed after the plan", func(t *testing.T) {
		api, c, p := plan(t, tunnel.After)
		api.SetRegistration(pcwebhook.Registration{WebhookURL: "https://other-team.example/hook"})
		var out bytes.Buffer
		_, now, err := Asker{Program: "prog", Out: &out}.Apply(ctx, c, p, true)
		assert.ErrorIs(t, err, ErrNotChanged)
		assert.Equal(t, "prog: not changed: the registration changed after it was read (someone else changed it). The change would now be:\n"+
			"  url:    https://other-team.example/hook -> https://abc.tunnel.example/hook\n  events: + test-created\n  header: Authorization (unchanged)\n"+
			"Run again to see it and decide.\n", out.String())
		assert.Equal(t, "https://other-team.example/hook", now.Before.WebhookURL)
		assert.Equal(t, []string{"GET " + regPath, "GET " + regPath}, api.Requests(), "nothing written")
	})
}

// Only terminals count: /dev/null is a character device, which a mode-bit check takes for a
// terminal (and then the question was asked and end of input read as "no").
func TestInteractive(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	require.NoError(t, err)
	defer devNull.Close()
	fi, err := devNull.Stat()
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeCharDevice, "the case this test is about: a character device")
	assert.False(t, Interactive(devNull, devNull))

	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	assert.False(t, Interactive(r, w))
	assert.False(t, Interactive(strings.NewReader(""), &bytes.Buffer{}))
	assert.False(t, Interactive(nil, nil))
	var nilFile *os.File
	assert.False(t, Interactive(nilFile, nilFile))
}
