package pcwebhookdev_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
	"github.com/partnercenter-go/pcwebhook/pcwebhookdev"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// exampleDevCA stands in for "pcwebhook trigger", which creates the development CA on first use
// and prints its directory.
func exampleDevCA() (dir string, cleanup func()) {
	base, err := os.MkdirTemp("", "pcwebhook-example-")
	if err != nil {
		panic(err)
	}
	dir = filepath.Join(base, "dev")
	if _, err := testpki.WriteDevCA(dir, time.Now()); err != nil {
		panic(err)
	}
	return dir, func() { os.RemoveAll(base) }
}

// An application accepts what "pcwebhook trigger", "pcwebhook resend" and "pcwebhook listen
// --forward" send with one line of development configuration naming the CLI's development CA
// directory.
func ExampleNewVerifier() {
	devDir, cleanup := exampleDevCA() // e.g. /home/you/.config/pcwebhook/dev
	defer cleanup()

	v, err := pcwebhookdev.NewVerifier(devDir) // local development only
	if err != nil {
		panic(err)
	}
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(v))
	h.OnSubscriptionUpdated(func(_ context.Context, e *pcwebhook.SubscriptionEvent) error {
		fmt.Println("subscription", e.SubscriptionID)
		return nil
	})

	// What "pcwebhook trigger subscription-updated --url ..." posts.
	ca, err := testpki.LoadDevCA(devDir)
	if err != nil {
		panic(err)
	}
	body := pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated, IDs: []string{"", "sub-1"}}.Body()
	header, err := ca.Signer(false).Sign(body)
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/webhooks", strings.NewReader(string(body)))
	req.Header = header
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, req.Header.Get("X-MS-Certificate-Url") == pcwebhookdev.CertificateURL)
	// Output:
	// subscription sub-1
	// 200 true
}

// The options form, to combine with other verifier options. There is no default directory.
func ExampleVerifierOptions() {
	devDir, cleanup := exampleDevCA()
	defer cleanup()
	opts, err := pcwebhookdev.VerifierOptions(devDir)
	if err != nil {
		panic(err)
	}
	v, err := pcwebhook.NewVerifier(append(opts, pcwebhook.WithCacheSize(8))...)
	fmt.Println(v != nil, err)

	_, err = pcwebhookdev.VerifierOptions("")
	fmt.Println(errors.Is(err, pcwebhookdev.ErrNoDirectory))
	// Output:
	// true <nil>
	// true
}
