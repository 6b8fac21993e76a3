package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/capread"
)

// Where the API commands get their token and API root.
const (
	// tokenEnv holds an access token for the Partner Center API.
	tokenEnv = "PARTNER_CENTER_TOKEN"
	// apiRootEnv overrides the API root chosen by --cloud (a proxy, or a fake API in tests);
	// --api-root overrides it in turn.
	apiRootEnv = "PCWEBHOOK_API_ROOT"
	// tokenResource is the resource the token must be issued for.
	tokenResource = "https://api.partnercenter.microsoft.com"
	// azTokenCommand prints a token with the Azure CLI.
	azTokenCommand = "az account get-access-token --resource " + tokenResource + " --query accessToken -o tsv"
)

// apiTimeout bounds one API command that does not wait on purpose (test --wait has its own).
const apiTimeout = 2 * time.Minute

// apiFlags are the flags shared by the commands that call the registration API.
type apiFlags struct {
	tokenCmd string
	cloud    string
	apiRoot  string
}

// hiddenAPIFlags returns the API flags left out of --help: none.
func hiddenAPIFlags() []string { return nil }

// define adds the API flags to fs.
func (f *apiFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.tokenCmd, "token-cmd", "", "a `command` that prints an access token, run without a shell (default: the token in "+tokenEnv+"), e.g.\n\""+azTokenCommand+"\"")
	fs.StringVar(&f.cloud, "cloud", "global", "`global` or china (operated by 21Vianet); the US Government cloud uses global,\nwith a token from its own authority")
	fs.StringVar(&f.apiRoot, "api-root", "", "the API root `URL`, overriding --cloud and $"+apiRootEnv+" (a proxy, or a fake API);\nhttps, or http on a loopback host only")
}

// apiDetails is the part of --help that the API commands share.
const apiDetails = `The access token (for ` + tokenResource + `) is taken from --token-cmd, or
else from ` + tokenEnv + `. The API root is the one of --cloud, unless ` + apiRootEnv + `
or --api-root names another (a proxy, or a fake API).`

// client builds the API client from the flags and the environment. transport, when not nil,
// wraps the HTTP transport. On failure it prints why and returns the exit status.
func (a *app) client(f *apiFlags, transport func(http.RoundTripper) http.RoundTripper, opts ...pcwebhook.ClientOption) (*pcwebhook.Client, int, bool) {
	root, ok := cloudRoot(f.cloud)
	if !ok {
		fmt.Fprintf(a.stderr, "pcwebhook: --cloud %q: want global or china\n", f.cloud)
		return nil, 2, false
	}
	if r := strings.TrimSpace(a.env.getenv(apiRootEnv)); r != "" {
		root = r
	}
	if r := strings.TrimSpace(f.apiRoot); r != "" {
		root = r
	}
	var tokens pcwebhook.TokenSource
	if strings.TrimSpace(f.tokenCmd) != "" {
		argv, err := splitShellWords(f.tokenCmd)
		if err != nil || len(argv) == 0 {
			if err == nil {
				err = errors.New("no command")
			}
			fmt.Fprintf(a.stderr, "pcwebhook: --token-cmd %q: %v\n", f.tokenCmd, err)
			return nil, 2, false
		}
		tokens = &commandToken{argv: argv}
	} else if tok := strings.TrimSpace(a.env.getenv(tokenEnv)); tok != "" {
		tokens = pcwebhook.StaticToken(tok)
	} else {
		fmt.Fprint(a.stderr, missingTokenHelp)
		return nil, 2, false
	}
	rt := http.DefaultTransport
	if transport != nil {
		rt = transport(rt)
	}
	c := pcwebhook.NewClient(tokens, append([]pcwebhook.ClientOption{
		pcwebhook.WithAPIRoot(root),
		pcwebhook.WithClientHTTPClient(&http.Client{Timeout: 30 * time.Second, Transport: rt})}, opts...)...)
	return c, 0, true
}

// cloudRoot returns the API root of a --cloud value.
func cloudRoot(cloud string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(cloud)) {
	case "global", "":
		return pcwebhook.GlobalAPIRoot, true
	case "china":
		return pcwebhook.ChinaAPIRoot, true
	}
	return "", false
}

// missingTokenHelp says how to give a token.
const missingTokenHelp = `pcwebhook: no Partner Center access token. Either set ` + tokenEnv + ` to an access token
for ` + tokenResource + `, for example with the Azure CLI:

    export ` + tokenEnv + `=$(` + azTokenCommand + `)

or pass --token-cmd with a command that prints one (it runs once per pcwebhook command):

    --token-cmd "` + azTokenCommand + `"

Sign in first as a user of your Partner Center account with an admin role ("az login"), or as an
app registered in Partner Center. For the China (21Vianet) or US Government cloud, run
"az cloud set --name AzureChinaCloud" (or AzureUSGovernment) before "az login".
`

// apiFailure prints an API error with what to do about it and returns exit status 1.
func (a *app) apiFailure(doing string, err error) int {
	var apiErr *pcwebhook.APIError
	switch {
	case errors.Is(err, pcwebhook.ErrNoToken):
		fmt.Fprintf(a.stderr, "pcwebhook: %s: %v\n\n%s", doing, err, missingTokenHelp)
		return 1
	case errors.As(err, &apiErr):
		fmt.Fprintf(a.stderr, "pcwebhook: %s: Partner Center answered %d %s", doing, apiErr.StatusCode, http.StatusText(apiErr.StatusCode))
		if apiErr.Code != "" {
			fmt.Fprintf(a.stderr, " (code %s)", apiErr.Code)
		}
		if apiErr.Message != "" {
			fmt.Fprintf(a.stderr, ": %s", apiErr.Message)
		}
		fmt.Fprintln(a.stderr)
		if apiErr.CorrelationID != "" || apiErr.RequestID != "" {
			fmt.Fprintf(a.stderr, "  correlation id %s, request id %s (quote them to Microsoft support)\n",
				orNone(apiErr.CorrelationID), orNone(apiErr.RequestID))
		}
		if apiErr.Hint != "" {
			fmt.Fprintf(a.stderr, "  hint: %s\n", apiErr.Hint)
		}
		if apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden {
			fmt.Fprintf(a.stderr, "  Tokens expire after about an hour: get a fresh one into %s, or use --token-cmd.\n", tokenEnv)
		}
		return 1
	default:
		fmt.Fprintf(a.stderr, "pcwebhook: %s: %v\n", doing, err)
		return 1
	}
}

// orNone returns s, or "(none)" when it is empty.
func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// commandToken is a TokenSource that runs a command once and keeps what it printed.
type commandToken struct {
	argv []string

	mu    sync.Mutex
	token string
}

// maxTokenOutput bounds what is read from the token command's standard output and error.
const maxTokenOutput = 64 << 10

// Token runs the command the first time and returns its trimmed standard output, then the same
// token for the rest of the process.
func (t *commandToken) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" {
		return t.token, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var stdout, stderr cappedBuffer
	stdout.max, stderr.max = maxTokenOutput, maxTokenOutput
	cmd := exec.CommandContext(ctx, t.argv[0], t.argv[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	name := strings.Join(t.argv, " ")
	if err != nil {
		msg := fmt.Sprintf("--token-cmd %q failed: %v", name, err)
		if errors.Is(err, exec.ErrNotFound) {
			msg += " (is it installed and on PATH?)"
		}
		if s := strings.TrimSpace(stderr.String()); s != "" {
			msg += "\nits standard error said:\n    " + strings.ReplaceAll(truncateText(s, 2000), "\n", "\n    ")
		}
		return "", fmt.Errorf("%s\n(or set %s to a token instead)", msg, tokenEnv)
	}
	tok := strings.TrimSpace(stdout.String())
	switch {
	case tok == "":
		return "", fmt.Errorf("--token-cmd %q printed nothing on its standard output (or set %s to a token instead)", name, tokenEnv)
	case strings.ContainsAny(tok, "\r\n"):
		return "", fmt.Errorf("--token-cmd %q printed more than one line: it must print the token alone "+
			"(with the Azure CLI: --query accessToken -o tsv)", name)
	}
	t.token = tok
	return tok, nil
}

// cappedBuffer keeps the first max bytes written to it and discards the rest.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

// Write implements io.Writer; it never fails, so the writer is never blocked.
func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// truncateText shortens s to at most n bytes, marking the cut.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// libraryVersion is the version of the pcwebhook library.
func libraryVersion() string { return pcwebhook.Version }

// readAllCapped reads r, at most max bytes, with the module's one capped reader: a longer r is
// an error that says so (capread.IsTooLarge), never a silent cut; the first max bytes come with it.
func readAllCapped(r io.Reader, max int64) ([]byte, error) {
	return capread.Read(r, max, -1)
}
