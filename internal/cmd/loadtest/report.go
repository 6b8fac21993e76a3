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
	fmt.Fprintln(tw, "scenario\trequests\tevents/s\tp50 ms\tp90 ms\tp99 ms\tstatuses\tcert downloads\tcanary hits\tRSS before MiB\tRSS after MiB\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%s\t%d\t%d\t%.1f\t%.1f\t\n",
			r.Scenario, r.Requests, r.EventsPerSec, r.P50ms, r.P90ms, r.P99ms, statuses(r), r.CertDownloads, r.CanaryHits, r.RSSBeforeMiB, r.RSSAfterMiB)
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

// judge prints every target the results allow to judge and reports whether all were met.
func judge(w io.Writer, rs map[string]*result) bool {
	var ts []target
	if f, v := rs["floor"], rs["valid"]; f != nil && v != nil && f.EventsPerSec > 0 {
		ratio := v.EventsPerSec / f.EventsPerSec
		ts = append(ts, target{"valid throughput >= 0.85x floor", ratio >= 0.85, fmt.Sprintf("%.2fx", ratio)})
	}
	for _, name := range []string{"valid", "duplicates"} {
		if r := rs[name]; r != nil {
			bad := r.Errors
			for c, n := range r.Status {
				if c < 200 || c > 299 {
					bad += n
				}
			}
			ts = append(ts, target{"zero non-2xx in " + name, bad == 0, fmt.Sprintf("%d", bad)})
		}
	}
	for _, name := range []string{"valid", "duplicates"} {
		if r := rs[name]; r != nil {
			ts = append(ts, target{"exactly one certificate download in " + name, r.CertDownloads == 1, fmt.Sprintf("%d", r.CertDownloads)})
		}
	}
	if r := rs["bad-signature"]; r != nil {
		// The first download, and one rotation check: a signature that matches no cached key is
		// checked against a fresh download once per rotation interval.
		ts = append(ts, target{"at most two certificate downloads in bad-signature", r.CertDownloads <= 2, fmt.Sprintf("%d", r.CertDownloads)})
		refused := r.Status[401] + r.Status[503]
		ts = append(ts, target{"bad-signature answered only 401 or 503", refused == r.Requests, fmt.Sprintf("%d of %d", refused, r.Requests)})
	}
	if r := rs["foreign-cert-url"]; r != nil {
		ts = append(ts, target{"no certificate download in foreign-cert-url", r.CertDownloads == 0, fmt.Sprintf("%d", r.CertDownloads)})
		ts = append(ts, target{"zero canary hits", r.CanaryHits == 0, fmt.Sprintf("%d", r.CanaryHits)})
	}
	if b, f := rs["bad-signature"], rs["foreign-cert-url"]; b != nil && f != nil && b.RSSBeforeMiB >= 0 {
		growth := f.RSSAfterMiB - b.RSSBeforeMiB
		n := b.Requests + f.Requests
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
