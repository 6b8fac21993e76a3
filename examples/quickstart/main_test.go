package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

func TestQuickstartEndsAsExpected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out), out.String())
	text := out.String()
	for _, name := range pcwebhook.KnownEventNames() {
		assert.Regexp(t, `(?m)^`+string(name)+` +\S.* 200 +ok: handled by its callback$`, text)
	}
	assert.Regexp(t, `(?m)^tampered body \(forged\) +- +401 +ok: rejected`, text)
	assert.Regexp(t, `(?m)^duplicate of subscription-updated +- +200 +ok: acknowledged, callbacks not run again$`, text)
	assert.Regexp(t, `(?m)^billing-profile-updated \(unknown\) .* 200 +ok: handled by its callback$`, text)
	assert.Contains(t, text, "All 37 deliveries ended as expected")
	assert.NotContains(t, text, "FAIL")
	// The typed IDs printed are those of the sample bodies.
	ev, err := pcwebhook.ParseEvent(pcwebhooktest.SampleEvent(pcwebhook.EventGranularAdminAccessAssignmentDeleted))
	require.NoError(t, err)
	gdap := ev.Typed().(*pcwebhook.GranularAdminAccessAssignmentEvent)
	assert.Regexp(t, `(?m)^granular-admin-access-assignment-deleted +relationship=`+short(gdap.RelationshipID)+` assignment=`+short(gdap.AssignmentID)+` `, text)
}

func TestJudge(t *testing.T) {
	cases := []struct {
		d      delivery
		status int
		ran    bool
		ok     bool
	}{
		{delivery{wantStatus: 200, wantRun: true}, 200, true, true},
		{delivery{wantStatus: 200, wantRun: true}, 200, false, false},
		{delivery{wantStatus: 200}, 200, true, false},
		{delivery{wantStatus: 401}, 401, false, true},
		{delivery{wantStatus: 401}, 500, false, false},
	}
	for _, c := range cases {
		what, ok := judge(c.d, c.status, c.ran)
		assert.Equal(t, c.ok, ok, what)
		assert.Equal(t, !c.ok, strings.HasPrefix(what, "FAIL"), what)
	}
}
