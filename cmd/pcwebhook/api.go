package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/apptoken"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// Where the API commands get their token and API root.
const (
	// tokenEnv holds an access token for the Partner Center API.
	tokenEnv = "PARTNER_CENTER_TOKEN"
	// apiRootEnv overrides the API root chosen by --cloud (a proxy, or a fake API in tests);
	// --api-root overrides it in turn.
	apiRootEnv = "PCWEBHOOK_API_ROOT"
	// authorityEnv overrides the Microsoft Entra authority of --cloud for app-only tokens (a
	// proxy, or a fake token endpoint in tests): https, or http on a loopback host only.
	authorityEnv = "PCWEBHOOK_AUTHORITY_HOST"
	// tokenResource is the resource the token must be issued for.
	tokenResource = "https://api.partnercenter.microsoft.com"
	// azTokenCommand prints a token with the Azure CLI.
	azTokenCommand = "az account get-access-token --resource " + tokenResource + " --query accessToken -o tsv"
)

// apiTimeout bounds one API command that does not wait on purpose (test --wait has its own).
const apiTimeout = 2 * time.Minute

// apiFlags are the flags shared by the commands that call the registration API.
type apiFlags struct {
	tokenCmd   string
	cloud      string
	apiRoot    string
	tenant     string
	clientID   string
	secretFile string
}

// define adds the API flags to fs.
func (f *apiFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.tokenCmd, "token-cmd", "", "a `command` that prints an access token, run without a shell (default: the token in "+tokenEnv+"), e.g.\n\""+azTokenCommand+"\"")
	fs.StringVar(&f.cloud, "cloud", "global", "`global`, china (operated by 21Vianet) or usgov (Microsoft Cloud for US Government)")
	fs.StringVar(&f.tenant, "tenant", "", "app-only tokens: the partner's Microsoft Entra `tenant` (default $"+apptoken.EnvTenantID+")")
	fs.StringVar(&f.clientID, "client-id", "", "app-only tokens: the app registration's client `ID` (default $"+apptoken.EnvClientID+");\nthe secret comes from $"+apptoken.EnvClientSecret+" or --client-secret-file, never from a flag")
	fs.StringVar(&f.secretFile, "client-secret-file", "", "app-only tokens: a `file` holding the client secret (default $"+apptoken.EnvClientSecret+")")
	fs.StringVar(&f.apiRoot, "api-root", "", "the API root `URL`, overriding --cloud and $"+apiRootEnv+" (a proxy, or a fake API);\nhttps, or http on a loopback host only")
}

// apiDetails is the part of --help that the API commands share.
const apiDetails = `The access token (for ` + tokenResource + `) comes from, in this order: --token-cmd;
app-only credentials given with --client-id (client credentials: --tenant or ` + apptoken.EnvTenantID + `, and
the secret in ` + apptoken.EnvClientSecret + ` or --client-secret-file); ` + tokenEnv + `; or app-only
credentials in ` + apptoken.EnvTenantID + `, ` + apptoken.EnvClientID + ` and ` + apptoken.EnvClientSecret + `.
The secret is never printed. The API root is the one of --cloud, unless ` + apiRootEnv + `
or --api-root names another (a proxy, or a fake API).`

// client builds the API client from the flags and the environment. transport, when not nil,
// wraps the HTTP transport. On failure it prints why and returns the exit status.
func (a *app) client(f *apiFlags, transport func(http.RoundTripper) http.RoundTripper, opts ...pcwebhook.ClientOption) (*pcwebhook.Client, int, bool) {
	cloud, ok := cloudOf(f.cloud)
	if !ok {
		fmt.Fprintf(a.stderr, "pcwebhook: --cloud %q: want global, china or usgov\n", termsafe.Text(f.cloud))
		return nil, 2, false
	}
	root := cloud.APIRoot
	if r := strings.TrimSpace(a.env.getenv(apiRootEnv)); r != "" {
		root = r
	}
	if r := strings.TrimSpace(f.apiRoot); r != "" {
		root = r
	}
	rt := http.DefaultTransport
	if transport != nil {
		rt = transport(rt)
	}
	if h := strings.TrimSpace(a.env.getenv(authorityEnv)); h != "" {
		u, err := url.Parse(h)
		if err != nil || !(u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname())) || u.Host == "" {
			fmt.Fprintf(a.stderr, "pcwebhook: %s %q: want an https URL (or http on a loopback host)\n", authorityEnv, termsafe.Text(h))
			return nil, 2, false
		}
		cloud.AuthorityHost = h
	}
	tokens, status, ok := a.tokenSource(f, cloud)
	if !ok {
		return nil, status, false
	}
	c := pcwebhook.NewClient(tokens, append([]pcwebhook.ClientOption{
		pcwebhook.WithAPIRoot(root),
		pcwebhook.WithClientHTTPClient(&http.Client{Timeout: 30 * time.Second, Transport: rt})}, opts...)...)
	return c, 0, true
}

// cloudOf returns the cloud of a --cloud value.
func cloudOf(name string) (apptoken.Cloud, bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "global", "":
		return apptoken.Global, true
	case "china":
		return apptoken.China, true
	case "usgov", "usgovernment":
		return apptoken.USGovernment, true
	}
	return apptoken.Cloud{}, false
}

// tokenSource picks where the access token comes from (see apiDetails). On failure it prints why
// and returns the exit status.
func (a *app) tokenSource(f *apiFlags, cloud apptoken.Cloud) (pcwebhook.TokenSource, int, bool) {
	getenv := a.env.getenv
	switch {
	case strings.TrimSpace(f.tokenCmd) != "":
		argv, err := splitShellWords(f.tokenCmd)
		if err != nil || len(argv) == 0 {
			if err == nil {
				err = errors.New("no command")
			}
			fmt.Fprintf(a.stderr, "pcwebhook: --token-cmd %q: %v\n", f.tokenCmd, err)
			return nil, 2, false
		}
		return &commandToken{argv: argv}, 0, true
	case strings.TrimSpace(f.clientID) != "" || strings.TrimSpace(f.tenant) != "" || f.secretFile != "":
		cfg := apptoken.Config{Cloud: cloud, TenantID: firstOf(f.tenant, getenv(apptoken.EnvTenantID)),
			ClientID: firstOf(f.clientID, getenv(apptoken.EnvClientID)), ClientSecret: getenv(apptoken.EnvClientSecret)}
		if f.secretFile != "" {
			b, err := os.ReadFile(f.secretFile)
			if err != nil {
				fmt.Fprintf(a.stderr, "pcwebhook: --client-secret-file: %v\n", err)
				return nil, 2, false
			}
			cfg.ClientSecret = strings.TrimSpace(string(b))
		}
		return a.appToken(cfg)
	case strings.TrimSpace(getenv(tokenEnv)) != "":
		return pcwebhook.StaticToken(strings.TrimSpace(getenv(tokenEnv))), 0, true
	case getenv(apptoken.EnvClientID) != "" && getenv(apptoken.EnvClientSecret) != "":
		cfg, err := apptoken.FromEnvironment(getenv, cloud)
		if err != nil {
			fmt.Fprintf(a.stderr, "pcwebhook: app-only token: %v\n", err)
			return nil, 2, false
		}
		return a.appToken(cfg)
	}
	fmt.Fprint(a.stderr, missingTokenHelp)
	return nil, 2, false
}

// appToken returns the app-only token source of cfg, or prints what is missing.
func (a *app) appToken(cfg apptoken.Config) (pcwebhook.TokenSource, int, bool) {
	src, err := apptoken.New(cfg)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: app-only token: %v (--tenant and --client-id, or %s and %s; the secret in %s or --client-secret-file)\n",
			err, apptoken.EnvTenantID, apptoken.EnvClientID, apptoken.EnvClientSecret)
		return nil, 2, false
	}
	return src, 0, true
}

// firstOf returns the first of values that is not blank, trimmed.
func firstOf(values ...string) string {
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
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

Or let pcwebhook get app-only tokens itself (client credentials of an app registered in Partner
Center, no user sign-in):

    export ` + apptoken.EnvTenantID + `=<tenant> ` + apptoken.EnvClientID + `=<app id> ` + apptoken.EnvClientSecret + `=<secret>

or --tenant and --client-id with the secret in ` + apptoken.EnvClientSecret + ` or --client-secret-file.
`

// apiFailure prints an API error with what to do about it and returns exit status 1.
func (a *app) apiFailure(doing string, err error) int {
	var apiErr *pcwebhook.APIError
	var tokErr *apptoken.Error
	switch {
	case errors.Is(err, pcwebhook.ErrNoToken):
		fmt.Fprintf(a.stderr, "pcwebhook: %s: %s\n\n%s", doing, termsafe.Text(err.Error()), missingTokenHelp)
		return 1
	case errors.As(err, &tokErr):
		fmt.Fprintf(a.stderr, "pcwebhook: %s: no app-only token: %s\n", doing, termsafe.Text(tokErr.Error()))
		fmt.Fprintln(a.stderr, "  Check the tenant, the client ID and the secret (not expired), and that the app is registered in\n"+
			"  Partner Center (Account settings, App management).")
		return 1
	case errors.As(err, &apiErr):
		fmt.Fprintf(a.stderr, "pcwebhook: %s: Partner Center answered %d %s", doing, apiErr.StatusCode, http.StatusText(apiErr.StatusCode))
		if apiErr.Code != "" {
			fmt.Fprintf(a.stderr, " (code %s)", termsafe.Text(apiErr.Code))
		}
		if apiErr.Message != "" {
			fmt.Fprintf(a.stderr, ": %s", termsafe.Text(apiErr.Message))
		}
		fmt.Fprintln(a.stderr)
		if apiErr.CorrelationID != "" || apiErr.RequestID != "" {
			fmt.Fprintf(a.stderr, "  correlation id %s, request id %s (quote them to Microsoft support)\n",
				termsafe.Text(orNone(apiErr.CorrelationID)), termsafe.Text(orNone(apiErr.RequestID)))
		}
		if apiErr.Hint != "" {
			fmt.Fprintf(a.stderr, "  hint: %s\n", termsafe.Text(apiErr.Hint))
		}
		if apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden {
			fmt.Fprintf(a.stderr, "  Tokens expire after about an hour: get a fresh one into %s, use --token-cmd, or app-only credentials (--client-id).\n", tokenEnv)
		}
		return 1
	default:
		fmt.Fprintf(a.stderr, "pcwebhook: %s: %s\n", doing, termsafe.Text(err.Error()))
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
