package rulecheck

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// alertExprs returns the expression of every alert in docs/prometheus-alerts.yml, by name.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	groups, errs := rulefmt.ParseFile(alertsFile, false, model.UTF8Validation, promqlParser, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.Empty(t, errs)
	out := map[string]string{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			out[r.Alert] = r.Expr
		}
	}
	return out
}

// The series of a receiver that handles 10 deliveries a minute, for two hours, in the test
// language of Prometheus (one sample a minute from time 0).
const healthy = `	pcwebhook_deliveries_total{job="webhooks",event="subscription-updated",outcome="handled",code="200"} 0+10x120
	pcwebhook_deliveries_total{job="webhooks",event="",outcome="verification-failed",code="401"} 0x120
	pcwebhook_verifier_download_failures_total{job="webhooks"} 0x120
`

// TestAlertsFireWhenTheyShould evaluates each alert's expression with Prometheus's engine, two
// hours into series that show the trouble it is about, and into healthy series: it must return
// an alert in the first case and nothing in the second. (The rules' "for" durations are the
// alert manager's business and are not evaluated here.)
func TestAlertsFireWhenTheyShould(t *testing.T) {
	exprs := alertExprs(t)
	cases := []struct {
		alert  string
		series string // added to healthy, except for NoDeliveries
		fires  bool
	}{
		{"PCWebhookDeliveriesRefused", `pcwebhook_deliveries_total{job="webhooks",event="",outcome="verification-failed",code="401"} 0+5x120`, true},
		{"PCWebhookDeliveriesRefused", `pcwebhook_deliveries_total{job="webhooks",event="",outcome="verification-failed",code="401"} 0+0.1x120`, false},
		{"PCWebhookSignedEventsRefused", `pcwebhook_deliveries_total{job="webhooks",event="invoice-ready",outcome="event-too-old",code="400"} 0x100 1x20`, true},
		{"PCWebhookServiceUnavailable", `pcwebhook_deliveries_total{job="webhooks",event="",outcome="certificate-unavailable",code="503"} 0+5x120`, true},
		{"PCWebhookServiceUnavailable", `pcwebhook_deliveries_total{job="webhooks",event="",outcome="signature-unconfirmed",code="503"} 0+5x120`, false},
		{"PCWebhookServiceUnavailable", `pcwebhook_deliveries_total{job="webhooks",event="subscription-updated",outcome="duplicate-in-progress",code="503"} 0+5x120`, false},
		{"PCWebhookCallbacksFailing", `pcwebhook_deliveries_total{job="webhooks",event="invoice-ready",outcome="callback-error",code="500"} 0+1x120`, true},
		{"PCWebhookCertificatePolicyFailed", `pcwebhook_deliveries_total{job="webhooks",event="",outcome="certificate-policy-failed",code="503"} 0+1x120`, true},
		{"PCWebhookCertificateDownloadsFailing", `pcwebhook_verifier_download_failures_total{job="webhooks"} 0+1x120`, true},
		{"PCWebhookNoDeliveries", `pcwebhook_deliveries_total{job="webhooks",event="",outcome="verification-failed",code="401"} 0+5x120`, true},
		{"PCWebhookNoDeliveries", `pcwebhook_deliveries_total{job="webhooks",event="subscription-updated",outcome="handled",code="200"} 5x120`, true},
	}
	for _, c := range cases {
		expr, ok := exprs[c.alert]
		require.True(t, ok, c.alert)
		load := healthy + "\t" + c.series + "\n"
		if c.alert == "PCWebhookNoDeliveries" {
			load = "\t" + c.series + "\n" // no acknowledged delivery at all
		}
		assert.Equal(t, c.fires, len(evalAt(t, load, expr)) > 0, "%s with %s", c.alert, c.series)
	}
	for name, expr := range exprs {
		assert.Empty(t, evalAt(t, healthy, expr), "%s fires on a healthy receiver", name)
	}
}

// evalAt evaluates expr two hours into the series of load.
func evalAt(t *testing.T, load, expr string) promql.Vector {
	t.Helper()
	storage := promqltest.LoadedStorage(t, "load 1m\n"+load)
	engine := promqltest.NewTestEngine(t, false, 0, 1_000_000)
	q, err := engine.NewInstantQuery(context.Background(), storage, nil, expr, time.Unix(0, 0).Add(2*time.Hour))
	require.NoError(t, err)
	defer q.Close()
	res := q.Exec(context.Background())
	require.NoError(t, res.Err, expr)
	v, err := res.Vector()
	require.NoError(t, err)
	return v
}
