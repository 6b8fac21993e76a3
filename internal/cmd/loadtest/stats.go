package main

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
)

// result is what one scenario measured.
type result struct {
	Scenario      string         `json:"scenario"`
	Round         int            `json:"round"`
	Requests      int            `json:"requests"`
	Seconds       float64        `json:"seconds"`
	EventsPerSec  float64        `json:"events_per_sec"`
	P50ms         float64        `json:"p50_ms"`
	P90ms         float64        `json:"p90_ms"`
	P99ms         float64        `json:"p99_ms"`
	Status        map[int]int    `json:"status"`
	Errors        int            `json:"transport_errors"`
	CertDownloads int64          `json:"cert_downloads"`
	CanaryHits    int64          `json:"canary_hits"`
	RSSBeforeMiB  float64        `json:"rss_before_mib"`
	RSSAfterMiB   float64        `json:"rss_after_mib"`
	Extra         map[string]any `json:"extra,omitempty"`
}

// summarize fills the rates and percentiles from per-request latencies.
func (r *result) summarize(lat []time.Duration, elapsed time.Duration) {
	r.Requests = len(lat)
	r.Seconds = elapsed.Seconds()
	if elapsed > 0 {
		r.EventsPerSec = float64(len(lat)) / elapsed.Seconds()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p * float64(len(lat)-1))
		return float64(lat[i].Microseconds()) / 1000
	}
	r.P50ms, r.P90ms, r.P99ms = pct(0.50), pct(0.90), pct(0.99)
}

// rssMiB returns the resident set size of this process after a full garbage collection that
// hands free memory back to the OS, so that two readings differ by what is really retained. It
// returns -1 where /proc is not available.
func rssMiB() float64 {
	runtime.GC()
	debug.FreeOSMemory()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				kb, err := strconv.ParseFloat(fields[1], 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	return -1
}
