// Command pcwebhook receives and manages Microsoft Partner Center webhooks from the terminal.
//
// Install it with
//
//	go install github.com/partnercenter-go/pcwebhook/cmd/pcwebhook@latest
//
// Usage:
//
//	pcwebhook <command> [flags]
//
// The commands:
//
//	events    [--offline]                      the event names (from the API, or the built-in table)
//	register  --url URL (--events a,b | --all) [--dry-run] [--yes]
//	                                           create or update the registration, only when needed
//	show                                       the current registration
//	update    --url URL (--events a,b | --all) [--dry-run] [--yes]
//	                                           replace the registration
//	test      [--wait] [--timeout D]            send a test event and follow its delivery
//	listen    [--addr A] [--dev] [--json] [--forward URL]
//	                                           receive webhooks and print each verified event
//	trigger   EVENT [--url URL] [--count N]     sign a sample event with the development CA and post it
//	resend    (CAPTURE | --body FILE) [--url URL]... [--count N]
//	                                           post the same bytes again: a listen --save capture, or a signed body
//	verify    --headers FILE --body FILE [--cert FILE]
//	                                           verify a captured delivery and explain what is wrong
//	check     [--url URL] [--roots FILE]        check trust roots, network, certificate and clock
//	version                                    the version of pcwebhook
//
// Every command has --help. The API commands (events, register, show, update, test) need an
// access token for https://api.partnercenter.microsoft.com: in PARTNER_CENTER_TOKEN, or printed by
// the command given with --token-cmd, for example
//
//	pcwebhook show --token-cmd "az account get-access-token --resource https://api.partnercenter.microsoft.com --query accessToken -o tsv"
//
// and --cloud china selects the API root of Partner Center operated by 21Vianet; PCWEBHOOK_API_ROOT
// or --api-root name another root (a proxy, or a fake API).
//
// A partner account has one registration: register and update print the change before they make
// it, --dry-run stops there, and a change of URL or dropped events is confirmed on a terminal
// (--yes skips the question; without a terminal they refuse unless --yes).
//
// The local loop needs no Partner Center account: "pcwebhook listen --dev" in one terminal and
// "pcwebhook trigger subscription-updated" in another (trigger posts where listen receives by
// default). trigger signs
// with a development CA that it creates once in the user's configuration directory
// (os.UserConfigDir()/pcwebhook/dev, or --config-dir, or PCWEBHOOK_CONFIG_DIR); listen --dev
// trusts that CA and nothing else, and never downloads a certificate.
//
// Exit status: 0 success, 1 failure (the API refused, a delivery failed, a verification
// failed), 2 bad usage or configuration.
package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/partnercenter-go/pcwebhook"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runContext(ctx, os.Args[1:], os.Stdout, os.Stderr, processEnv())
	stop()
	os.Exit(code)
}

// env is what a command may take from outside its arguments. Tests fill it in to run the
// commands in-process against fakes.
type env struct {
	// getenv reads an environment variable.
	getenv func(string) string
	// downloads, when not nil, is the http.Client verifiers download certificates with (tests
	// point it at a TLS test server); nil means the library's default.
	downloads *http.Client
	// roots, when not nil, replaces the system roots of the production policy (tests trust a
	// pcwebhooktest sender's root with it).
	roots *x509.CertPool
	// terminal reports whether w is an interactive terminal (spinner output); nil means
	// isTerminal.
	terminal func(w io.Writer) bool
	// stdin is where confirmations are read from; nil reads nothing.
	stdin io.Reader
	// stdinTerminal reports whether a confirmation can be asked (stdin and stderr are
	// terminals); nil means approve.Interactive(stdin, stderr).
	stdinTerminal func() bool
}

// processEnv is the environment of a real process.
func processEnv() env {
	return env{getenv: os.Getenv, stdin: os.Stdin}
}

// app is one invocation: where it writes and what it may read.
type app struct {
	stdout, stderr io.Writer
	env            env
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) int
}

// commands returns the subcommands, in the order the usage lists them.
func commands() []command {
	return []command{
		{"events", "list the event names (from the API, or the built-in table with --offline)", runEvents},
		{"register", "register a webhook URL for events (creates or updates only when needed)", runRegister},
		{"show", "show the current registration", runShow},
		{"update", "replace the registration", runUpdate},
		{"test", "send a test event and, with --wait, follow its delivery", runTest},
		{"listen", "receive webhooks locally and print each verified event", runListen},
		{"trigger", "sign a sample event with the local development CA and post it", runTrigger},
		{"resend", "post the same bytes again (a listen --save capture, or a signed body), to one URL or several", runResend},
		{"verify", "verify a captured delivery and explain what is wrong", runVerify},
		{"check", "check that this host can verify deliveries: trust roots, network, certificate, clock", runCheck},
		{"version", "print the version", runVersion},
	}
}

// runContext is run with a context that stops blocking commands, and an explicit environment.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer, e env) int {
	if e.getenv == nil {
		e.getenv = func(string) string { return "" }
	}
	a := &app{stdout: stdout, stderr: stderr, env: e}
	if len(args) == 0 {
		a.usage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(rest) > 0 {
			if c, ok := findCommand(rest[0]); ok {
				return c.run(ctx, a, []string{"--help"})
			}
			fmt.Fprintf(stderr, "pcwebhook: unknown command %q\n\n", rest[0])
			a.usage(stderr)
			return 2
		}
		a.usage(stdout)
		return 0
	case "-version", "--version":
		return runVersion(ctx, a, nil)
	}
	c, ok := findCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "pcwebhook: unknown command %q\n\n", name)
		a.usage(stderr)
		return 2
	}
	return c.run(ctx, a, rest)
}

// findCommand looks a subcommand up by name.
func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage prints the top-level usage.
func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `pcwebhook receives and manages Microsoft Partner Center webhooks.

usage: pcwebhook <command> [flags]

commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "pcwebhook <command> --help" for the flags of a command.

The API commands (events, register, show, update, test) need an access token for
`+tokenResource+`: set `+tokenEnv+`, or pass --token-cmd with a
command that prints one, such as
    --token-cmd "`+azTokenCommand+`"

Try the whole loop locally, with no Partner Center account:
    pcwebhook listen --dev                                              (one terminal)
    pcwebhook trigger subscription-updated --url http://127.0.0.1:8080/  (another)
`)
}

// runVersion prints the library version the command was built with.
func runVersion(_ context.Context, a *app, args []string) int {
	fs, code, ok := a.parse(&usageSpec{
		name:     "version",
		synopsis: "pcwebhook version",
		details:  "Prints the version of the pcwebhook library this command was built with.",
	}, args, nil)
	if !ok {
		return code
	}
	if fs.NArg() > 0 {
		return a.usageError(fs, "version takes no arguments")
	}
	fmt.Fprintf(a.stdout, "pcwebhook %s\n", pcwebhook.Version)
	return 0
}
