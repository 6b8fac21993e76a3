package pcwebhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// TokenSourceFunc adapts a function to a [TokenSource], for example the Token method of a
// credential from another library:
//
//	pcwebhook.TokenSourceFunc(func(ctx context.Context) (string, error) {
//		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: scopes})
//		return tok.Token, err
//	})
//
// A nil TokenSourceFunc makes every call fail with [ErrNoToken].
type TokenSourceFunc func(ctx context.Context) (string, error)

// Token calls f(ctx).
func (f TokenSourceFunc) Token(ctx context.Context) (string, error) {
	if f == nil {
		return "", fmt.Errorf("%w: nil TokenSourceFunc", ErrNoToken)
	}
	return f(ctx)
}

// ErrForeignResourceURI is wrapped by the error of [Client.GetResource] when the URI is not one
// the Client may send its token to: its host (and port) is not the host of the Client's API root,
// or its scheme is neither https nor http. Nothing is sent in that case, so the bearer token never
// leaves for another host, whatever an event's body names.
//
// The resources of the GDAP events (granular-admin-*) are such URIs: they name
// partner.microsoft.com, and the Microsoft Graph API (delegatedAdminRelationships) serves them,
// with a Graph token.
var ErrForeignResourceURI = errors.New("pcwebhook: resource URI is not on the Partner Center API host")

// GetResource GETs uri, an event's ResourceURI (or AuditURI), with the Client's token, retries,
// correlation IDs and errors, and decodes the JSON body into out (nil out discards it).
//
// uri must name the host (and port) of the Client's API root, for example
// api.partnercenter.microsoft.com with the default root: any other host is refused with an error
// wrapping [ErrForeignResourceURI] before anything is sent. The request always goes with the API
// root's scheme: an http:// URI (the documents' examples use them) is sent as https://, so the
// token never travels in clear. The URI's path and query are sent as they are (a path prefix of
// the API root is not added: the URI names the whole path); surrounding
// spaces, which some events carry, are removed. A non-2xx answer gives an error wrapping an
// [*APIError], as the other methods do; a 2xx body that is not JSON, or larger than 1 MiB, an
// error wrapping [ErrUnexpectedResponse]. An empty uri (DAP events have none), or one without a
// host, wraps [ErrInvalidInput].
func (c *Client) GetResource(ctx context.Context, uri string, out any) error {
	if c == nil {
		return fmt.Errorf("%w: nil *Client", ErrInvalidInput)
	}
	if c.configErr != nil {
		return c.configErr
	}
	target, op, err := c.resourceURL(uri)
	if err != nil {
		return err
	}
	res, err := c.do(ctx, apiRequest{method: http.MethodGet, path: op, url: target})
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := decodeJSON(res.body, out); err != nil {
		// out's own UnmarshalJSON may quote the body, and the body may echo the request.
		return fmt.Errorf("pcwebhook: GET %s: %w", op, res.red.error(err))
	}
	return nil
}

// resourceURL checks uri against the API root and returns the URL to request (the root's scheme
// and host, uri's path and query) and the path for messages.
func (c *Client) resourceURL(uri string) (target, op string, err error) {
	raw := strings.TrimSpace(uri)
	bad := func(why string) error {
		return fmt.Errorf("%w: resource URI %q: %s", ErrInvalidInput, truncate(raw, 100), why)
	}
	if raw == "" {
		return "", "", bad("empty (events of the DAP family carry no ResourceUri)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", bad("not a URL")
	}
	if u.Scheme == "" || u.Host == "" {
		return "", "", bad("not an absolute URL with a host")
	}
	root, err := url.Parse(c.root())
	if err != nil { // the root was validated by WithAPIRoot
		return "", "", fmt.Errorf("%w: API root: %v", ErrInvalidInput, err)
	}
	foreign := func(why string) error {
		err := fmt.Errorf("%w: %q: %s (the Client's API root is %s); nothing was sent",
			ErrForeignResourceURI, truncate(raw, 100), why, c.root())
		if strings.Contains(strings.ToLower(u.Path), "/granularadminrelationships") {
			err = fmt.Errorf("%w; GDAP resources are served by the Microsoft Graph API "+
				"(/tenantRelationships/delegatedAdminRelationships), with a Graph token", err)
		}
		return err
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", "", foreign("scheme " + scheme + " is not https")
	}
	if u.User != nil {
		return "", "", foreign("it carries user information")
	}
	if !sameHost(u, root) {
		return "", "", foreign("host " + u.Host + " is not the API host")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	op = path
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return root.Scheme + "://" + root.Host + path, op, nil
}

// sameHost reports whether u names the host and port of root. Host names compare without letter
// case or a trailing dot. A URI without a port, or with its scheme's default port, means the API
// root's port.
func sameHost(u, root *url.URL) bool {
	norm := func(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }
	if norm(u.Hostname()) != norm(root.Hostname()) {
		return false
	}
	p := u.Port()
	switch {
	case p == "" || p == root.Port():
		return true
	case root.Port() != "":
		return false
	case strings.EqualFold(u.Scheme, "https"):
		return p == "443"
	default:
		return p == "80"
	}
}
