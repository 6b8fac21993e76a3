package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// usageSpec describes a subcommand for its --help.
type usageSpec struct {
	name     string // the subcommand
	synopsis string // one line: "pcwebhook show [flags]"
	details  string // paragraphs printed after the synopsis
	noArgs   bool   // the command takes no positional arguments: any is a usage error
}

// cmdLine is a parsed command line: the flags, set in place, and the positional arguments.
type cmdLine struct {
	spec *usageSpec
	fs   *flag.FlagSet
	args []string
}

// NArg returns the number of positional arguments.
func (c *cmdLine) NArg() int { return len(c.args) }

// Arg returns positional argument i.
func (c *cmdLine) Arg(i int) string { return c.args[i] }

// parse defines a subcommand's flags with define (which may be nil) and parses args. Positional
// arguments may stand between flags ("trigger EVENT --url URL"); everything after "--" is
// positional. On -h or --help it prints the usage to stdout and returns ok == false with code 0;
// on a bad flag, or a positional argument when spec.noArgs, it prints the error and the synopsis
// to stderr and returns code 2.
func (a *app) parse(spec *usageSpec, args []string, define func(fs *flag.FlagSet)) (*cmdLine, int, bool) {
	fs := flag.NewFlagSet("pcwebhook "+spec.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and usage are printed here, not by package flag
	fs.Usage = func() {}
	if define != nil {
		define(fs)
	}
	cl := &cmdLine{spec: spec, fs: fs}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.printUsage(a.stdout, cl)
				return cl, 0, false
			}
			return cl, a.usageError(cl, err.Error()), false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			cl.args = append(cl.args, rest...)
			break
		}
		cl.args = append(cl.args, rest[0])
		args = rest[1:]
	}
	if spec.noArgs && len(cl.args) > 0 {
		return cl, a.usageError(cl, "unexpected arguments: "+strings.Join(cl.args, " ")), false
	}
	return cl, 0, true
}

// usageError reports a usage mistake with the synopsis and returns exit status 2.
func (a *app) usageError(cl *cmdLine, msg string) int {
	fmt.Fprintf(a.stderr, "pcwebhook %s: %s\nusage: %s\nRun \"pcwebhook %s --help\" for the details.\n",
		cl.spec.name, msg, cl.spec.synopsis, cl.spec.name)
	return 2
}

// printUsage prints a subcommand's help: synopsis, details and the flags.
func (a *app) printUsage(w io.Writer, cl *cmdLine) {
	fmt.Fprintf(w, "usage: %s\n", cl.spec.synopsis)
	if cl.spec.details != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(cl.spec.details, "\n"))
	}
	var b strings.Builder
	cl.fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		b.WriteString("  --" + f.Name)
		if name != "" {
			b.WriteString(" " + name)
		}
		b.WriteString("\n        " + strings.ReplaceAll(usage, "\n", "\n        "))
		switch f.DefValue {
		case "", "0", "false", "0s":
		default:
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	})
	if b.Len() > 0 {
		fmt.Fprintf(w, "\nflags:\n%s", b.String())
	}
}

// stringList is a flag that may be repeated; each use adds one value.
type stringList []string

// String implements flag.Value.
func (l *stringList) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *stringList) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}
