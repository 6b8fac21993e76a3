package main

import (
	"fmt"
	"strings"

	"github.com/partnercenter-go/pcwebhook"
)

// suggestEventName returns the known event name closest to name (by edit distance, ignoring
// letter case), or "" when none is close enough to be a likely typo.
func suggestEventName(name pcwebhook.EventName) pcwebhook.EventName {
	in := strings.ToLower(strings.TrimSpace(string(name)))
	if in == "" {
		return ""
	}
	var best pcwebhook.EventName
	bestDist := -1
	for _, k := range pcwebhook.KnownEventNames() {
		d := editDistance(in, strings.ToLower(string(k)))
		if bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	if bestDist >= 0 && bestDist <= max(2, len(in)/4) {
		return best
	}
	for _, k := range pcwebhook.KnownEventNames() { // a part of a name: "subscription"
		if len(in) >= 4 && strings.Contains(strings.ToLower(string(k)), in) {
			return k
		}
	}
	return ""
}

// unknownEventMessage says that name is not a known event name, with a suggestion when there is
// one, and how to send it anyway.
func unknownEventMessage(name pcwebhook.EventName) string {
	msg := fmt.Sprintf("%q is not an event name pcwebhook %s knows", name, pcwebhook.Version)
	if s := suggestEventName(name); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg + ` (see "pcwebhook events"; --allow-unknown sends it anyway, for events newer than this version)`
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
