package pcwebhook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

// rotatingFixture serves a certificate at one URL that the test can replace, and counts what it
// served.
type rotatingFixture struct {
	*fixture
	mu     sync.Mutex
	served []byte
}

func newRotatingFixture(t *testing.T, path string) *rotatingFixture {
	rf := &rotatingFixture{fixture: newFixture(t)}
	rf.served = rf.leaf.Raw
	rf.cs.handle(path, func(w http.ResponseWriter, _ *http.Request) {
		rf.mu.Lock()
		body := rf.served
		rf.mu.Unlock()
		_, _ = w.Write(body)
	})
	return rf
}

func (rf *rotatingFixture) serve(der []byte) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	rf.served = der
}

func headerSignedBy(t *testing.T, sig, certURL string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Signature "+sig)
	h.Set("X-MS-Certificate-Url", certURL)
	h.Set("X-MS-Signature-Algorithm", "rsa-sha256")
	return h
}

// bigKey is a 3072-bit RSA key, made once per test binary.
var bigKeyOnce = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		panic(err)
	}
	return k
})

func bigKey(testing.TB) *rsa.PrivateKey { return bigKeyOnce() }

// TestRotationInPlaceVerifiesOnFirstAttempt: Microsoft replaces the
// certificate at the same URL while the old one is cached (for up to a day); the first delivery
// signed with the new key verifies, with one extra download, instead of 401s until the cache
// entry ends. With a cached key and the production interval, the clock moves an hour.
func TestRotationInPlaceVerifiesOnFirstAttempt(t *testing.T) {
	const path = "/cert/pcnotifications-dispatch.microsoft.com.cer"
	rf := newRotatingFixture(t, path)
	clock := newTestClock(time.Now())
	v := rf.verifier(t, pcwebhook.WithClock(clock.now))
	url := rf.cs.url(path)
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, url, testBody), testBody))

	k := testKeys()
	rotated := issueCert(t, certSpec{cn: "pcnotifications-dispatch.microsoft.com", org: []string{pcwebhook.RequiredOrganization},
		pub: &k.other.PublicKey, aia: []string{rf.cs.url(interPath)}}, rf.pki.inter, k.inter)
	rf.serve(rotated.Raw)
	clock.add(time.Hour) // well inside DefaultCertificateMaxAge: the old key is still cached

	body := []byte(`{"EventName":"subscription-updated"}`)
	require.NoError(t, v.Verify(context.Background(), headerSignedBy(t, sign(t, k.other, body), url), body), "first attempt")
	st := v.Stats()
	assert.Equal(t, int64(2), st.CertificateDownloads)
	assert.Equal(t, int64(1), st.RotationChecks)
	assert.Equal(t, 2, rf.cs.hitsFor(path))
	// Later deliveries use the new cached key.
	require.NoError(t, v.Verify(context.Background(), headerSignedBy(t, sign(t, k.other, testBody), url), testBody))
	assert.Equal(t, int64(2), v.Stats().CertificateDownloads)

	// A rotation to a larger key (another signature length) is picked up too.
	big := bigKey(t)
	rotated2 := issueCert(t, certSpec{cn: "pcnotifications-dispatch.microsoft.com", org: []string{pcwebhook.RequiredOrganization},
		pub: &big.PublicKey, aia: []string{rf.cs.url(interPath)}}, rf.pki.inter, k.inter)
	rf.serve(rotated2.Raw)
	clock.add(time.Hour)
	require.NoError(t, v.Verify(context.Background(), headerSignedBy(t, sign(t, big, body), url), body))
	assert.Equal(t, int64(3), v.Stats().CertificateDownloads)
}

// TestRotationForgedFloodCostsOneDownloadPerInterval: forged signatures naming a cached URL cause
// at most one extra download per URL per rotation interval. A forged request checked against that
// download (it started after the request arrived) is refused for good (401); one that arrives
// after it, inside the interval, cannot be told from a delivery signed with a certificate replaced
// since, and is answered transient (503, retried), never accepted.
func TestRotationForgedFloodCostsOneDownloadPerInterval(t *testing.T) {
	rf := newRotatingFixture(t, "/cert/a.cer")
	rf.cs.serve("/cert/b.cer", rf.leaf.Raw)
	clock := newTestClock(time.Now())
	v := rf.verifier(t, pcwebhook.WithClock(clock.now))
	urls := []string{rf.cs.url("/cert/a.cer"), rf.cs.url("/cert/b.cer")}
	for _, u := range urls {
		require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody))
	}
	require.Equal(t, int64(2), v.Stats().CertificateDownloads)
	forged := sign(t, testKeys().other, testBody)

	var refused, unconfirmed int
	for round := 1; round <= 3; round++ {
		clock.add(pcwebhook.DefaultRotationCheckInterval) // a new interval
		// A burst at once, then a stream, on both URLs.
		errs := concurrently(1000, func() error {
			return v.Verify(context.Background(), headerSignedBy(t, forged, urls[0]), testBody)
		})
		for i := 0; i < 500; i++ {
			errs = append(errs, v.Verify(context.Background(), headerSignedBy(t, forged, urls[i%2]), testBody))
			clock.add(pcwebhook.DefaultRotationCheckInterval / 1000) // the interval does not end meanwhile
		}
		for _, err := range errs {
			var ve *pcwebhook.VerificationError
			require.True(t, errors.As(err, &ve), "never accepted: %v", err)
			switch {
			case errors.Is(err, pcwebhook.ErrBadSignature):
				refused++
				assert.False(t, ve.Transient(), "a signature that fails with a fresh key is the sender's: 401")
			case errors.Is(err, pcwebhook.ErrSignatureUnconfirmed):
				unconfirmed++
				assert.True(t, ve.Transient(), "unconfirmed is retried: 503")
				assert.Equal(t, http.StatusServiceUnavailable, pcwebhook.HTTPStatus(err))
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		assert.Equal(t, int64(2+2*round), v.Stats().CertificateDownloads, "round %d: one extra download per URL", round)
	}
	assert.Equal(t, int64(6), v.Stats().RotationChecks)
	assert.Positive(t, refused, "the requests that started a check, or waited for it, are refused")
	assert.Positive(t, unconfirmed, "the stream after the check, inside the interval, is unconfirmed")
	assert.Equal(t, int64(unconfirmed), v.Stats().UnconfirmedSignatures)
	// The genuine key is still served from the cache.
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, urls[0], testBody), testBody))
	assert.Equal(t, int64(8), v.Stats().CertificateDownloads)
}

// TestRotationDownloadFailureIsTransient: when the re-download cannot be made, the answer is
// transient (503, retried, logged at WARN: ErrSignatureUnconfirmed, never ERROR: forged requests
// can cause it), and the cached key stays in place for genuine deliveries.
func TestRotationDownloadFailureIsTransient(t *testing.T) {
	rf := newRotatingFixture(t, "/cert/a.cer")
	var down sync.Mutex
	broken := false
	rf.cs.handle("/cert/a.cer", func(w http.ResponseWriter, _ *http.Request) {
		down.Lock()
		defer down.Unlock()
		if broken {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(rf.leaf.Raw)
	})
	clock := newTestClock(time.Now())
	v := rf.verifier(t, pcwebhook.WithClock(clock.now))
	u := rf.cs.url("/cert/a.cer")
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody))
	down.Lock()
	broken = true
	down.Unlock()
	clock.add(2 * pcwebhook.DefaultRotationCheckInterval)
	err := v.Verify(context.Background(), headerSignedBy(t, sign(t, testKeys().other, testBody), u), testBody)
	require.ErrorIs(t, err, pcwebhook.ErrSignatureUnconfirmed)
	assert.NotErrorIs(t, err, pcwebhook.ErrCertificateUnavailable, "exactly one sentinel")
	assert.Contains(t, err.Error(), "HTTP status 503", "the download's failure is told")
	assert.Equal(t, http.StatusServiceUnavailable, pcwebhook.HTTPStatus(err))
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody), "the cached key is kept")
}

// rotate serves a certificate with a new key at the rotating URL and returns that key.
func (rf *rotatingFixture) rotate(t *testing.T) *rsa.PrivateKey {
	k := testKeys()
	rotated := issueCert(t, certSpec{cn: "pcnotifications-dispatch.microsoft.com", org: []string{pcwebhook.RequiredOrganization},
		pub: &k.other.PublicKey, aia: []string{rf.cs.url(interPath)}}, rf.pki.inter, k.inter)
	rf.serve(rotated.Raw)
	return k.other
}

// TestRotationRightAfterARefresh: a certificate download (start-up, Prefetch, the refresh when the
// cached entry ends) does not start the rotation check interval: deliveries signed with a
// certificate rotated just after it verify at once, 10, 11 and 12 s after the refresh.
func TestRotationRightAfterARefresh(t *testing.T) {
	for _, how := range []string{"first delivery", "Prefetch", "entry expired"} {
		t.Run(how, func(t *testing.T) {
			rf := newRotatingFixture(t, "/cert/a.cer")
			clock := newTestClock(time.Now())
			v := rf.verifier(t, pcwebhook.WithClock(clock.now), pcwebhook.WithCertificateMaxAge(time.Hour))
			u := rf.cs.url("/cert/a.cer")
			switch how {
			case "first delivery":
				require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody))
			case "Prefetch":
				require.NoError(t, v.Prefetch(context.Background(), u))
			case "entry expired":
				require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody))
				clock.add(time.Hour + time.Second)
				require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody), "the daily refresh")
			}
			key := rf.rotate(t)
			for _, d := range []time.Duration{10 * time.Second, time.Second, time.Second} {
				clock.add(d)
				body := []byte(`{"EventName":"subscription-updated","n":"` + clock.now().String() + `"}`)
				require.NoError(t, v.Verify(context.Background(), headerSignedBy(t, sign(t, key, body), u), body))
			}
			assert.Equal(t, int64(1), v.Stats().RotationChecks)
		})
	}
}

// TestRotationCheckIsNotAbandoned: a forged request naming the real certificate URL whose caller
// gives up at once (a cancelled context, a closed connection) must not keep the verifier on the
// old key: the check it started runs to its end, so the next genuine delivery signed with the
// rotated key verifies; a caller whose context has already ended starts no check at all.
func TestRotationCheckIsNotAbandoned(t *testing.T) {
	for _, how := range []string{"cancelled while downloading", "cancelled while queued for a slot", "cancelled before"} {
		t.Run(how, func(t *testing.T) {
			rf := newRotatingFixture(t, "/cert/a.cer")
			release := make(chan struct{})
			var slow sync.Once
			rf.cs.handle("/cert/a.cer", func(w http.ResponseWriter, _ *http.Request) {
				rf.mu.Lock()
				b := rf.served
				rf.mu.Unlock()
				if bytes.Equal(b, rf.leaf.Raw) {
					_, _ = w.Write(b)
					return
				}
				slow.Do(func() { <-release }) // the rotation check's download takes a while
				_, _ = w.Write(b)
			})
			unblock := make(chan struct{})
			rf.cs.handle("/cert/busy.cer", func(w http.ResponseWriter, _ *http.Request) {
				<-unblock
				http.NotFound(w, nil)
			})
			clock := newTestClock(time.Now())
			v := rf.verifier(t, pcwebhook.WithClock(clock.now), pcwebhook.WithMaxConcurrentDownloads(1))
			u := rf.cs.url("/cert/a.cer")
			require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody))
			key := rf.rotate(t)
			clock.add(time.Hour)

			forged := headerSignedBy(t, sign(t, testKeys().inter, testBody), u)
			ctx, cancel := context.WithCancel(context.Background())
			switch how {
			case "cancelled while queued for a slot":
				// The only download slot is busy: the check waits in the queue when its caller leaves.
				busy := make(chan error)
				go func() {
					busy <- v.Verify(context.Background(), signedHeader(t, rf.cs.url("/cert/busy.cer"), testBody), testBody)
				}()
				require.Eventually(t, func() bool { return rf.cs.hitsFor("/cert/busy.cer") == 1 }, 5*time.Second, time.Millisecond)
				done := make(chan error)
				go func() { done <- v.Verify(ctx, forged, testBody) }()
				require.Eventually(t, func() bool { return v.Stats().RotationChecks == 1 }, 5*time.Second, time.Millisecond)
				cancel()
				require.ErrorIs(t, <-done, pcwebhook.ErrSignatureUnconfirmed, "the caller went away: transient")
				close(release)
				close(unblock) // the slot frees: the check, queued with nobody waiting, goes ahead
				<-busy
				require.Eventually(t, func() bool { return rf.cs.hitsFor("/cert/a.cer") == 2 }, 5*time.Second, time.Millisecond)
			case "cancelled before":
				cancel()
				close(release)
				err := v.Verify(ctx, forged, testBody)
				require.ErrorIs(t, err, pcwebhook.ErrSignatureUnconfirmed)
				assert.Zero(t, v.Stats().RotationChecks, "a caller already gone starts no check")
			default:
				done := make(chan error)
				go func() { done <- v.Verify(ctx, forged, testBody) }()
				require.Eventually(t, func() bool { return v.Stats().RotationChecks == 1 }, 5*time.Second, time.Millisecond)
				cancel()
				err := <-done
				require.ErrorIs(t, err, pcwebhook.ErrSignatureUnconfirmed, "the caller went away: transient")
				close(release) // the download goes on without anyone waiting
			}
			body := []byte(`{"EventName":"subscription-updated"}`)
			require.NoError(t, v.Verify(context.Background(), headerSignedBy(t, sign(t, key, body), u), body),
				"the genuine delivery signed with the rotated key verifies")
			assert.Equal(t, int64(1), v.Stats().RotationChecks)
			if how != "cancelled while queued for a slot" {
				close(unblock)
			}
		})
	}
}

// TestRotationFailureOfTheMomentGivesTheIntervalBack: a check refused for congestion (every
// download slot busy and the queue full) is not remembered: the next delivery checks again.
func TestRotationFailureOfTheMomentGivesTheIntervalBack(t *testing.T) {
	rf := newRotatingFixture(t, "/cert/a.cer")
	block := make(chan struct{})
	rf.cs.handle("/cert/slow.cer", func(w http.ResponseWriter, _ *http.Request) {
		<-block
		http.NotFound(w, nil)
	})
	clock := newTestClock(time.Now())
	v := rf.verifier(t, pcwebhook.WithClock(clock.now), pcwebhook.WithMaxConcurrentDownloads(1), pcwebhook.WithMaxQueuedDownloads(0))
	u := rf.cs.url("/cert/a.cer")
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody))
	key := rf.rotate(t)
	clock.add(time.Hour)

	// The only slot is taken by a slow download of another URL.
	slowDone := make(chan error)
	go func() {
		slowDone <- v.Verify(context.Background(), signedHeader(t, rf.cs.url("/cert/slow.cer"), testBody), testBody)
	}()
	require.Eventually(t, func() bool { return rf.cs.hitsFor("/cert/slow.cer") == 1 }, 5*time.Second, time.Millisecond)
	body := []byte(`{"EventName":"subscription-updated"}`)
	genuine := headerSignedBy(t, sign(t, key, body), u)
	err := v.Verify(context.Background(), genuine, body)
	require.ErrorIs(t, err, pcwebhook.ErrSignatureUnconfirmed, "no slot for the check: retried")
	close(block)
	<-slowDone
	require.NoError(t, v.Verify(context.Background(), genuine, body), "the refused check did not use up the interval")
}

// TestRotationCheckSurvivesAClosedConnection: through a real Handler over TCP, a forged request
// naming the real certificate URL on a connection closed at once, while every download slot is
// busy, does not hold the verifier on the old key: the genuine delivery signed with the rotated
// key that follows is answered 200.
func TestRotationCheckSurvivesAClosedConnection(t *testing.T) {
	rf := newRotatingFixture(t, "/cert/a.cer")
	unblock := make(chan struct{})
	rf.cs.handle("/cert/busy.cer", func(w http.ResponseWriter, _ *http.Request) {
		<-unblock
		http.NotFound(w, nil)
	})
	v := rf.verifier(t, pcwebhook.WithMaxConcurrentDownloads(1))
	u := rf.cs.url("/cert/a.cer")
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody))
	srv := httptest.NewServer(pcwebhook.NewHandler(pcwebhook.WithVerifier(v), pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	t.Cleanup(srv.Close)
	key := rf.rotate(t)

	// A flood naming a fresh file holds the only download slot.
	busy := make(chan error)
	go func() {
		busy <- v.Verify(context.Background(), signedHeader(t, rf.cs.url("/cert/busy.cer"), testBody), testBody)
	}()
	require.Eventually(t, func() bool { return rf.cs.hitsFor("/cert/busy.cer") == 1 }, 5*time.Second, time.Millisecond)

	// The forged request: its connection closes as soon as it is sent.
	body := uniqueBody(pcwebhook.EventSubscriptionUpdated)
	forged := headerSignedBy(t, sign(t, testKeys().inter, body), u)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = forged
	require.NoError(t, req.Write(conn))
	require.Eventually(t, func() bool { return v.Stats().RotationChecks == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, conn.Close())
	require.Eventually(t, func() bool { return v.Stats().UnconfirmedSignatures == 1 }, 5*time.Second, time.Millisecond,
		"the forged request's caller went away")
	close(unblock)
	<-busy

	genuine := uniqueBody(pcwebhook.EventSubscriptionUpdated)
	req, err = http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(genuine))
	require.NoError(t, err)
	req.Header = headerSignedBy(t, sign(t, key, genuine), u)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the genuine delivery signed with the rotated key")
	assert.Equal(t, int64(1), v.Stats().RotationChecks)
}
