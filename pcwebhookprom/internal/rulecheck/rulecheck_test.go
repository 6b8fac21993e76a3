package rulecheck

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhookprom"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// The files checked, relative to this package.
var (
	alertsFile    = filepath.Join("..", "..", "..", "docs", "prometheus-alerts.yml")
	dashboardFile = filepath.Join("..", "..", "..", "docs", "grafana-dashboard.json")
)

// exposedNames returns the metric names a registry with pcwebhookprom's Metrics and verifier
// collector exposes after a real delivery, with the _bucket, _sum and _count series of the
// histograms.
func exposedNames(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := pcwebhookprom.New(reg)
	require.NoError(t, err)
	sender := pcwebhooktest.New(t)
	verifier := sender.Verifier()
	reg.MustRegister(pcwebhookprom.NewVerifierCollector(verifier))
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(verifier), pcwebhook.WithObserver(m.Observe),
		pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	rec := sender.Deliver(h, pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body())
	require.Equal(t, http.StatusOK, rec.Code)

	families, err := reg.Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+suffix] = true
			}
		}
	}
	require.True(t, names[pcwebhookprom.DeliveriesTotal])
	return names
}

var promqlParser = parser.NewParser(parser.Options{})

// selectedNames returns the metric names the vector selectors of expr name.
func selectedNames(t *testing.T, expr string) []string {
	t.Helper()
	node, err := promqlParser.ParseExpr(expr)
	require.NoError(t, err, expr)
	var names []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// TestAlertRules: docs/prometheus-alerts.yml parses with Prometheus's rule parser (unknown
// fields refused, expressions and templates checked), every alert has a severity, a summary and
// a description, and every metric it queries is one pcwebhookprom exposes.
func TestAlertRules(t *testing.T) {
	exposed := exposedNames(t)
	groups, errs := rulefmt.ParseFile(alertsFile, false, model.UTF8Validation, promqlParser, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.Empty(t, errs)
	var alerts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "only alerting rules: %q", r.Expr)
			alerts = append(alerts, r.Alert)
			assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], r.Alert)
			assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
			assert.NotEmpty(t, r.Annotations["description"], r.Alert)
			names := selectedNames(t, r.Expr)
			assert.NotEmpty(t, names, r.Alert)
			for _, n := range names {
				assert.True(t, exposed[n], "%s queries %s, which pcwebhookprom does not expose", r.Alert, n)
			}
		}
	}
	sort.Strings(alerts)
	assert.Equal(t, []string{"PCWebhookCallbacksFailing", "PCWebhookCertificateDownloadsFailing", "PCWebhookCertificatePolicyFailed",
		"PCWebhookDeliveriesRefused", "PCWebhookNoDeliveries", "PCWebhookServiceUnavailable", "PCWebhookSignedEventsRefused"}, alerts)
}

// dashboard is the part of Grafana's dashboard model the test reads.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int     `json:"id"`
	Title   string  `json:"title"`
	Type    string  `json:"type"`
	Panels  []panel `json:"panels"` // a collapsed row's
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// grafanaVariables are Grafana's interval variables, which PromQL cannot parse in a range.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// labelValuesQuery is a Grafana variable query label_values(metric, label).
var labelValuesQuery = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$`)

// TestDashboard: docs/grafana-dashboard.json is a dashboard whose every query parses as PromQL
// (Grafana's interval variables put in) and names only metrics pcwebhookprom exposes; panel IDs
// are unique.
func TestDashboard(t *testing.T) {
	exposed := exposedNames(t)
	raw, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(raw, &d))
	assert.NotEmpty(t, d.Title)
	assert.NotEmpty(t, d.UID)

	ids := map[int]bool{}
	queried := map[string]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			assert.False(t, ids[p.ID], "panel id %d twice", p.ID)
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type != "row" {
				assert.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				for _, n := range selectedNames(t, grafanaVariables.Replace(tg.Expr)) {
					queried[n] = true
					assert.True(t, exposed[n], "panel %q queries %s, which pcwebhookprom does not expose", p.Title, n)
				}
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValuesQuery.FindStringSubmatch(v.Definition)
		require.NotNil(t, m, "variable %s: %q", v.Name, v.Definition)
		assert.True(t, exposed[m[1]], "variable %s queries %s", v.Name, m[1])
	}
	// The dashboard shows every metric: the deliveries, the durations, and each verifier counter.
	for n := range exposed {
		if n == pcwebhookprom.DeliveryDurationSeconds || strings.HasPrefix(n, pcwebhookprom.DeliveryDurationSeconds+"_") {
			continue // the histogram is shown through its _bucket, _sum and _count series
		}
		assert.True(t, queried[n], "no panel shows %s", n)
	}
	assert.True(t, queried[pcwebhookprom.DeliveryDurationSeconds+"_bucket"])
}

// TestSelectedNamesSeesEverySelector keeps the checker honest: it finds the names inside
// functions, aggregations, binary operations and subqueries, so a misspelt name cannot hide.
func TestSelectedNamesSeesEverySelector(t *testing.T) {
	got := selectedNames(t, `sum by (le) (rate(a_bucket[5m])) / on() group_left max_over_time(b[1h:5m]) or vector(0) and c{x="y"}`)
	assert.ElementsMatch(t, []string{"a_bucket", "b", "c"}, got)
}
