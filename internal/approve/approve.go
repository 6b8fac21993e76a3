// Package approve asks a person to approve a disruptive change of the webhook registration (see
// pcwebhook.RegistrationDiff.Disruptive) and applies it, for the command-line tool and
// examples/register: one rule and one wording for both. A change that is not disruptive needs no
// approval; a disruptive one needs the --yes flag or a "y" typed on a terminal, and without a
// terminal it is refused with a message that says why and names --yes. An approved plan is
// written only if the registration is still the one the plan was made from.
package approve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// Asker asks on a terminal. The zero value asks no one: it approves only what needs no approval.
type Asker struct {
	// Program prefixes the refusals, such as "pcwebhook".
	Program string
	// In is where the answer is read from (standard input).
	In io.Reader
	// Out is where the question and the refusals are written (standard error).
	Out io.Writer
	// Interactive reports whether a person can answer: In and Out are a terminal (see
	// [Interactive]). Without it the question is not asked.
	Interactive bool
}

// Approve reports whether plan may be written: true when it is not disruptive or yes (the --yes
// flag) is set, or when a person answers y or yes. Otherwise it writes why nothing is changed,
// naming --yes, and reports false.
func (a Asker) Approve(plan pcwebhook.RegistrationDiff, yes bool) bool {
	if !plan.Disruptive() || yes {
		return true
	}
	out := a.out()
	change := "This change " + termsafe.Text(plan.Disruption()) + ", for every program of the account"
	if !a.Interactive || a.In == nil {
		fmt.Fprintf(out, "%s: not changed. %s, and there is no terminal to confirm it on "+
			"(standard input and standard error must both be one). Run again with --yes to apply it.\n", a.Program, change)
		return false
	}
	fmt.Fprintf(out, "%s.\nApply it? [y/N] ", change)
	line, err := bufio.NewReader(a.In).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintf(out, "\n%s: not changed: no answer (end of input). Run again with --yes to apply it without asking.\n", a.Program)
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	fmt.Fprintf(out, "%s: not changed: not confirmed (answer y to apply it, or run again with --yes).\n", a.Program)
	return false
}

// ErrNotChanged is returned by [Asker.Apply] when it wrote nothing and has said why: the change
// was not approved, or the registration changed after the plan was made.
var ErrNotChanged = errors.New("registration not changed")

// Apply writes plan with client once [Asker.Approve] approves it: with
// pcwebhook.AllowDisruptive when the plan is disruptive, and only if the registration is still
// plan.Before (pcwebhook.Client.ApplyRegistrationPlan). When the registration changed meanwhile
// it shows the change as it would now be. It returns the registration as written and the change
// against the registration read right before writing; the error is [ErrNotChanged] or the
// write's.
func (a Asker) Apply(ctx context.Context, client *pcwebhook.Client, plan pcwebhook.RegistrationDiff, yes bool) (*pcwebhook.Registration, pcwebhook.RegistrationDiff, error) {
	if !a.Approve(plan, yes) {
		return nil, plan, ErrNotChanged
	}
	var approved []pcwebhook.EnsureOption
	if plan.Disruptive() {
		approved = append(approved, pcwebhook.AllowDisruptive())
	}
	reg, now, err := client.ApplyRegistrationPlan(ctx, plan, approved...)
	if errors.Is(err, pcwebhook.ErrStalePlan) {
		fmt.Fprintf(a.out(), "%s: not changed: the registration changed after it was read (someone else changed it). "+
			"The change would now be:\n  %s\nRun again to see it and decide.\n", a.Program, Indented(now))
		return reg, now, ErrNotChanged
	}
	return reg, now, err
}

// Indented is the change's description (pcwebhook.RegistrationDiff.String) with its lines after
// the first indented by two spaces, to print after two spaces. What the service sent (URLs, event
// names) is escaped for a terminal (internal/termsafe).
func Indented(d pcwebhook.RegistrationDiff) string {
	lines := strings.Split(d.String(), "\n")
	for i, l := range lines {
		lines[i] = termsafe.Text(l)
	}
	return strings.Join(lines, "\n  ")
}

// out is where the question and the refusals go.
func (a Asker) out() io.Writer {
	if a.Out == nil {
		return io.Discard
	}
	return a.Out
}

// Interactive reports whether a question can be asked: in and out are both terminals. A pipe, a
// file, or /dev/null (a character device, but no terminal) is not one.
func Interactive(in io.Reader, out io.Writer) bool {
	return isTerminal(in) && isTerminal(out)
}

// isTerminal reports whether v is an *os.File open on a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && f != nil && term.IsTerminal(int(f.Fd()))
}
