package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

func printTable(w io.Writer, results []*result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tscenario\trequests\tevents/s\tp50 ms\tp90 ms\tp99 ms\tstatuses\tcert downloads\tcanary hits\tRSS before MiB\tRSS after MiB\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%s\t%d\t%d\t%.1f\t%.1f\t\n",
			r.Round, r.Scenario, r.Requests, r.EventsPerSec, r.P50ms, r.P90ms, r.P99ms, statuses(r), r.CertDownloads, r.CanaryHits, r.RSSBeforeMiB, r.RSSAfterMiB)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func statuses(r *result) string {
	var codes []int
	for c := range r.Status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d:%d", c, r.Status[c]))
	}
	if r.Errors > 0 {
		parts = append(parts, fmt.Sprintf("err:%d", r.Errors))
	}
	return strings.Join(parts, " ")
}

// target is one of the load targets of docs/performance.md, judged on what ran.
type target struct {
	what string
	ok   bool
	got  string
}

// judge prints every target the results allow to judge and reports whether all were met. rs holds
// each scenario's rounds, in order.
func judge(w io.Writer, rs map[string][]*result) bool {
	var ts []target
	if ratio, ok := medianRatio(rs["valid"], rs["floor"]); ok {
		ts = append(ts, target{"valid throughput >= 0.95x floor (median of rounds)", ratio >= 0.95, fmt.Sprintf("%.2fx", ratio)})
	}
	if ratio, ok := medianRatio(rs["replay"], rs["foreign-cert-url"]); ok {
		ts = append(ts, target{"replay throughput >= 0.90x foreign-cert-url (median)", ratio >= 0.90, fmt.Sprintf("%.2fx", ratio)})
	}
	for _, name := range []string{"valid", "duplicates", "replay"} {
		if runs := rs[name]; runs != nil {
			bad := worst(runs, func(r *result) int64 {
				n := int64(r.Errors)
				for c, k := range r.Status {
					if c < 200 || c > 299 {
						n += int64(k)
					}
				}
				return n
			})
			ts = append(ts, target{"zero non-2xx in " + name, bad == 0, fmt.Sprintf("%d", bad)})
		}
	}
	for _, name := range []string{"valid", "duplicates", "replay"} {
		if runs := rs[name]; runs != nil {
			ok := true
			for _, r := range runs {
				ok = ok && r.CertDownloads == 1
			}
			ts = append(ts, target{"exactly one certificate download in " + name, ok, counts(runs, func(r *result) int64 { return r.CertDownloads })})
		}
	}
	if runs := rs["bad-signature"]; runs != nil {
		// The first download, and one rotation check: a signature that matches no cached key is
		// checked against a fresh download once per rotation interval.
		n := worst(runs, func(r *result) int64 { return r.CertDownloads })
		ts = append(ts, target{"at most two certificate downloads in bad-signature", n <= 2, fmt.Sprintf("%d", n)})
		other := worst(runs, func(r *result) int64 { return int64(r.Requests - r.Status[401] - r.Status[503]) })
		ts = append(ts, target{"bad-signature answered only 401 or 503", other == 0, fmt.Sprintf("%d other", other)})
	}
	if runs := rs["foreign-cert-url"]; runs != nil {
		n := worst(runs, func(r *result) int64 { return r.CertDownloads })
		ts = append(ts, target{"no certificate download in foreign-cert-url", n == 0, fmt.Sprintf("%d", n)})
		hits := worst(runs, func(r *result) int64 { return r.CanaryHits })
		ts = append(ts, target{"zero canary hits", hits == 0, fmt.Sprintf("%d", hits)})
	}
	if growth, n, ok := hostileGrowth(rs); ok {
		ts = append(ts, target{fmt.Sprintf("RSS growth < 20 MiB across %d hostile requests", n), growth < 20, fmt.Sprintf("%+.1f MiB", growth)})
	}
	all := true
	for _, t := range ts {
		mark := "PASS"
		if !t.ok {
			mark, all = "FAIL", false
		}
		fmt.Fprintf(w, "%s  %-55s %s\n", mark, t.what, t.got)
	}
	return all
}

// medianRatio is the median over the rounds of a's throughput divided by b's in the same round.
func medianRatio(a, b []*result) (float64, bool) {
	var ratios []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		if b[i].EventsPerSec > 0 {
			ratios = append(ratios, a[i].EventsPerSec/b[i].EventsPerSec)
		}
	}
	if len(ratios) == 0 {
		return 0, false
	}
	sort.Float64s(ratios)
	if n := len(ratios); n%2 == 0 {
		return (ratios[n/2-1] + ratios[n/2]) / 2, true
	}
	return ratios[len(ratios)/2], true
}

// worst is the largest value of f over the rounds.
func worst(runs []*result, f func(*result) int64) int64 {
	var m int64
	for _, r := range runs {
		m = max(m, f(r))
	}
	return m
}

// counts lists f over the rounds, for a target's line.
func counts(runs []*result, f func(*result) int64) string {
	parts := make([]string, len(runs))
	for i, r := range runs {
		parts[i] = fmt.Sprint(f(r))
	}
	return strings.Join(parts, " ")
}

// hostileGrowth is the largest RSS growth of one round across its hostile scenarios
// (bad-signature, replay, foreign-cert-url; from the first one's start to the last one's end),
// with the number of hostile requests of that round.
func hostileGrowth(rs map[string][]*result) (float64, int, bool) {
	var names []string
	for _, name := range []string{"bad-signature", "replay", "foreign-cert-url"} {
		if rs[name] != nil {
			names = append(names, name)
		}
	}
	if len(names) < 2 {
		return 0, 0, false
	}
	first, last := rs[names[0]], rs[names[len(names)-1]]
	growth, requests, ok := 0.0, 0, false
	for i := 0; i < len(first) && i < len(last); i++ {
		if first[i].RSSBeforeMiB < 0 {
			continue
		}
		g := last[i].RSSAfterMiB - first[i].RSSBeforeMiB
		if !ok || g > growth {
			growth, ok = g, true
			requests = 0
			for _, name := range names {
				requests += rs[name][i].Requests
			}
		}
	}
	return growth, requests, ok
}
