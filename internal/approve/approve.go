// Package approve asks a person to approve a disruptive change of the webhook registration (see
// pcwebhook.RegistrationDiff.Disruptive), for the command-line tool and examples/register: one
// rule and one wording for both. A change that is not disruptive needs no approval; a disruptive
// one needs the --yes flag or a "y" typed on a terminal, and without a terminal it is refused
// with a message that says why and names --yes.
package approve

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/partnercenter-go/pcwebhook"
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
	out := a.Out
	if out == nil {
		out = io.Discard
	}
	change := "This change " + plan.Disruption() + ", for every program of the account"
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
