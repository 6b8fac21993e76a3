package pcwebhook

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/partnercenter-go/pcwebhook/internal/certcache"
	"github.com/partnercenter-go/pcwebhook/internal/urlpolicy"
)

// downloadClient returns the client used for downloads: a copy of the user's client (or a new
// one on a copy of http.DefaultTransport) that never follows redirects and keeps no cookies.
func downloadClient(user *http.Client) *http.Client {
	var c http.Client
	if user != nil {
		c = *user
	} else {
		c.Transport = defaultTransport()
	}
	c.CheckRedirect = refuseRedirect
	c.Jar = nil
	return &c
}

// defaultTransport is a copy of http.DefaultTransport with a bound on response headers.
func defaultTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second}
	} else {
		t = t.Clone()
	}
	t.MaxResponseHeaderBytes = 64 << 10
	return t
}

// download fetches u (already checked against an allow-list) and returns its body. It refuses
// redirects and any status but 200, reads at most cfg.maxBytes, and gives up after
// cfg.downloadTimeout. It first takes a download slot: priority downloads (URLs that verified
// before) are served before the others, and when the queue of its class is full it fails at once
// (reasonQueueFull). ctx ending (nobody waits any more) stops the wait for a slot, never a
// download in progress. Every failure is ErrCertificateUnavailable, except a URL that net/url
// reads differently from the strict parser (ErrUntrustedCertificateURL) and a 404 for a
// certificate URL that is not known (ErrCertificateNotFound: the sender named a file that does
// not exist).
func (st *verifierState) download(ctx context.Context, u *urlpolicy.URL, step VerificationStep, counter *atomic.Int64, priority bool) ([]byte, *VerificationError) {
	host := u.Authority()
	fail := func(reason string, cause error) *VerificationError {
		st.stats.downloadFailures.Add(1)
		return &VerificationError{Step: step, Reason: reason, Host: host, Err: ErrCertificateUnavailable, Cause: cause}
	}
	if err := u.CrossCheck(); err != nil {
		return nil, &VerificationError{Step: step, Reason: "URL is ambiguous", Host: host, Err: ErrUntrustedCertificateURL, Cause: err}
	}

	waitCtx, cancelWait := context.WithTimeout(ctx, st.cfg.downloadTimeout)
	release, err := st.gate.Acquire(waitCtx, priority)
	cancelWait()
	switch {
	case errors.Is(err, certcache.ErrQueueFull):
		st.stats.queueFull.Add(1)
		return nil, &VerificationError{Step: step, Reason: reasonQueueFull, Host: host, Err: ErrCertificateUnavailable}
	case err != nil && ctx.Err() != nil:
		return nil, &VerificationError{Step: step, Reason: reasonAbandoned, Host: host, Err: ErrCertificateUnavailable, Cause: err}
	case err != nil:
		return nil, &VerificationError{Step: step, Reason: reasonSlotWait, Host: host, Err: ErrCertificateUnavailable, Cause: err}
	}
	defer release()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), st.cfg.downloadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.Canonical(), nil)
	if err != nil {
		return nil, &VerificationError{Step: step, Reason: "URL is ambiguous", Host: host, Err: ErrUntrustedCertificateURL, Cause: err}
	}
	counter.Add(1)
	resp, err := st.client.Do(req)
	if err != nil {
		return nil, fail("request failed", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, fail("redirect refused (HTTP "+strconv.Itoa(resp.StatusCode)+")", nil)
	case resp.StatusCode == http.StatusNotFound && step == StepDownload && !priority:
		// A name never seen under the allowed prefix that names no file: the request's fault.
		st.stats.downloadFailures.Add(1)
		return nil, &VerificationError{Step: step, Reason: "no certificate at this URL (HTTP 404), and none was ever verified there", Host: host, Err: ErrCertificateNotFound}
	case resp.StatusCode != http.StatusOK:
		return nil, fail("HTTP status "+strconv.Itoa(resp.StatusCode), nil)
	case resp.ContentLength > st.cfg.maxBytes:
		return nil, fail("certificate larger than "+strconv.FormatInt(st.cfg.maxBytes, 10)+" bytes", nil)
	}
	data, tooLarge, err := readCapped(resp.Body, st.cfg.maxBytes)
	read := int64(len(data))
	if tooLarge {
		read++ // the byte past the cap was read too
	}
	st.stats.bytesDownloaded.Add(read)
	if err != nil {
		return nil, fail("reading the body failed", err)
	}
	if tooLarge {
		return nil, fail("certificate larger than "+strconv.FormatInt(st.cfg.maxBytes, 10)+" bytes", nil)
	}
	return data, nil
}
