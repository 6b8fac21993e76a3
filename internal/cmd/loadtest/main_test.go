package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSmallRun runs every scenario with small counts: the tool works, and the invariants that do
// not depend on the machine's speed hold.
func TestSmallRun(t *testing.T) {
	cfg, err := parseFlags([]string{"-valid", "60", "-duplicates", "60", "-hostile", "150", "-concurrency", "4", "-duration", "30s", "-rounds", "1"}, &bytes.Buffer{})
	require.NoError(t, err)
	var out, errOut bytes.Buffer
	_, err = run(context.Background(), cfg, &out, &errOut)
	require.NoError(t, err, errOut.String())

	results := map[string]result{}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "{") {
			var r result
			require.NoError(t, json.Unmarshal([]byte(line), &r), line)
			results[r.Scenario] = r
		}
	}
	require.Len(t, results, 6)
	assert.Equal(t, map[int]int{200: 60}, results["floor"].Status)
	assert.Equal(t, map[int]int{200: 60}, results["valid"].Status)
	assert.Equal(t, map[int]int{200: 60}, results["duplicates"].Status)
	// Tampered bodies: refused for good (401) when checked against the rotation check's download,
	// retried (503, signature unconfirmed) when they arrive after it inside its interval.
	bad := results["bad-signature"].Status
	assert.Equal(t, 150, bad[401]+bad[503], "%v", bad)
	assert.Positive(t, bad[401], "%v", bad)
	assert.Equal(t, map[int]int{401: 150}, results["foreign-cert-url"].Status)
	assert.EqualValues(t, 60, results["valid"].Extra["callbacks_run"])
	assert.EqualValues(t, 1, results["duplicates"].Extra["callbacks_run"], "duplicates run the callback once")
	assert.EqualValues(t, 0, results["bad-signature"].Extra["callbacks_run"])
	assert.Equal(t, map[int]int{200: 150}, results["replay"].Status)
	assert.EqualValues(t, 1, results["replay"].Extra["callbacks_run"], "a replayed delivery runs the callback once")
	assert.EqualValues(t, 150, results["replay"].Extra["verifier"].(map[string]any)["MemoHits"],
		"every repeat of the verified delivery is answered from the memo, without the RSA operation")
	assert.Equal(t, int64(1), results["replay"].CertDownloads)
	assert.Equal(t, int64(0), results["floor"].CertDownloads)
	assert.Equal(t, int64(1), results["valid"].CertDownloads)
	assert.Equal(t, int64(1), results["duplicates"].CertDownloads)
	assert.Equal(t, int64(2), results["bad-signature"].CertDownloads, "the first download and one rotation check")
	assert.Equal(t, int64(0), results["foreign-cert-url"].CertDownloads)
	for name, r := range results {
		assert.Zero(t, r.CanaryHits, name)
		assert.Zero(t, r.Errors, name)
		assert.Greater(t, r.EventsPerSec, 0.0, name)
		assert.LessOrEqual(t, r.P50ms, r.P99ms, name)
	}
	assert.Contains(t, out.String(), "PASS  zero canary hits")
	assert.Contains(t, out.String(), "events/s")
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-scenario", "valid, floor"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"valid", "floor"}, cfg.scenarios)
	assert.Equal(t, 20*time.Second, cfg.duration)

	var errOut bytes.Buffer
	_, err = parseFlags([]string{"-scenario", "nope"}, &errOut)
	assert.Error(t, err)
	assert.Contains(t, errOut.String(), "unknown scenario")
	_, err = parseFlags([]string{"-concurrency", "0"}, &bytes.Buffer{})
	assert.Error(t, err)
}

func TestJudgeFlagsMissedTargets(t *testing.T) {
	var out bytes.Buffer
	ok := judge(&out, map[string][]*result{
		"floor":            {{EventsPerSec: 1000}},
		"valid":            {{EventsPerSec: 500, Status: map[int]int{200: 9, 500: 1}, CertDownloads: 2}},
		"replay":           {{EventsPerSec: 800, Status: map[int]int{200: 10}, CertDownloads: 1}},
		"foreign-cert-url": {{EventsPerSec: 1000, CanaryHits: 1}},
	})
	assert.False(t, ok)
	assert.Contains(t, out.String(), "FAIL  valid throughput >= 0.95x floor")
	assert.Contains(t, out.String(), "FAIL  replay throughput >= 0.90x foreign-cert-url")
	assert.Contains(t, out.String(), "PASS  zero non-2xx in replay")
	assert.Contains(t, out.String(), "FAIL  zero non-2xx in valid")
	assert.Contains(t, out.String(), "FAIL  exactly one certificate download in valid")
	assert.Contains(t, out.String(), "FAIL  zero canary hits")
}

// TestJudgeAcrossRounds: a throughput ratio is the median of the rounds' ratios (one slow round of
// the floor does not decide it), and an invariant must hold in every round.
func TestJudgeAcrossRounds(t *testing.T) {
	ok200 := map[int]int{200: 10}
	var out bytes.Buffer
	ok := judge(&out, map[string][]*result{
		"floor": {{EventsPerSec: 1000}, {EventsPerSec: 1000}, {EventsPerSec: 400}},
		"valid": {{EventsPerSec: 960, Status: ok200, CertDownloads: 1}, {EventsPerSec: 990, Status: ok200, CertDownloads: 1},
			{EventsPerSec: 380, Status: ok200, CertDownloads: 1}},
	})
	assert.True(t, ok, out.String())
	assert.Regexp(t, `PASS  valid throughput >= 0.95x floor \(median of rounds\) +0.96x`, out.String(), "the median of 0.96, 0.99 and 0.95")

	out.Reset()
	ok = judge(&out, map[string][]*result{
		"valid": {{Status: ok200, CertDownloads: 1}, {Status: ok200, CertDownloads: 2}},
	})
	assert.False(t, ok)
	assert.Contains(t, out.String(), "FAIL  exactly one certificate download in valid")
	assert.Contains(t, out.String(), "1 2")
}
