package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// isTerminal reports whether w is an interactive terminal: an *os.File that golang.org/x/term
// says is a terminal (a character device such as /dev/null is not), with TERM not "dumb".
func (a *app) isTerminal(w io.Writer) bool {
	if a.env.terminal != nil {
		return a.env.terminal(w)
	}
	f, ok := w.(*os.File)
	if !ok || a.env.getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// spinnerFrames are the frames of the progress spinner.
const spinnerFrames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

// spinnerInterval is how often the spinner line is redrawn.
const spinnerInterval = 100 * time.Millisecond

// progress writes the lines of a long wait. On a terminal it keeps a spinner line at the bottom,
// redrawn in place; elsewhere it writes plain lines only.
type progress struct {
	w        io.Writer
	tty      bool
	frame    int
	spinning bool // a spinner line is on the screen
}

// clearLine is a carriage return and "erase to end of line".
const clearLine = "\r\x1b[K"

// println writes a line above the spinner (or just a line).
func (p *progress) println(s string) {
	if p.spinning {
		fmt.Fprint(p.w, clearLine)
		p.spinning = false
	}
	fmt.Fprintln(p.w, s)
}

// spin redraws the spinner line with text; it does nothing off a terminal.
func (p *progress) spin(text string) {
	if !p.tty {
		return
	}
	frames := []rune(spinnerFrames)
	fmt.Fprintf(p.w, "%s%c %s", clearLine, frames[p.frame%len(frames)], text)
	p.frame++
	p.spinning = true
}

// done removes the spinner line.
func (p *progress) done() {
	if p.spinning {
		fmt.Fprint(p.w, clearLine)
		p.spinning = false
	}
}

// wait waits for d, spinning with the text status gives, and reports false when ctx ended first.
func (p *progress) wait(ctx context.Context, d time.Duration, status func() string) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	var tick <-chan time.Time
	if p.tty {
		t := time.NewTicker(spinnerInterval)
		defer t.Stop()
		tick = t.C
		p.spin(status())
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		case <-tick:
			p.spin(status())
		}
	}
}
