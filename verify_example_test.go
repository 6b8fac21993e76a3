package pcwebhook_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// A start-up check: Prefetch downloads and checks the certificate before the first delivery, and
// says what to fix when it fails. Here a test sender stands in for Partner Center, and the
// verifier trusts other roots, as on a host whose CA bundle lacks Microsoft's roots. In
// production: verifier.Prefetch(ctx), which checks DefaultCertificateURL.
func ExampleVerifier_Prefetch() {
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer sender.Close()
	other, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer other.Close()

	verifier := sender.Verifier(pcwebhook.WithRootCAs(other.RootCAs()))
	err = verifier.Prefetch(context.Background(), sender.CertificateURL())
	var ve *pcwebhook.VerificationError
	if errors.As(err, &ve) {
		fmt.Println("step:", ve.Step)
		fmt.Println("transient (503, retried):", ve.Transient())
		fmt.Println("fix names WithRootCAs:", strings.Contains(ve.Fix(), "WithRootCAs"))
	}

	ok := sender.Verifier()
	fmt.Println("with the right roots:", ok.Prefetch(context.Background(), sender.CertificateURL()))
	fmt.Println("cached:", ok.Stats().CachedCertificates)
	// Output:
	// step: certificate-chain
	// transient (503, retried): true
	// fix names WithRootCAs: true
	// with the right roots: <nil>
	// cached: 1
}

// Fix says what the operator should do about a failure that is the receiver's own; a handler
// logs it at ERROR. For the sender's failures (401) it is empty.
func ExampleVerificationError_Fix() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	err := &pcwebhook.VerificationError{Step: pcwebhook.StepCertificateTime, Reason: "certificate chain is not valid", Err: pcwebhook.ErrUntrustedCertificate}
	if err.Transient() {
		logger.Error("cannot verify Partner Center's certificate", "step", err.Step, "fix", err.Fix())
	}
	forged := &pcwebhook.VerificationError{Step: pcwebhook.StepSignature, Err: pcwebhook.ErrBadSignature}
	fmt.Printf("forged: transient=%v fix=%q\n", forged.Transient(), forged.Fix())
	// Output:
	// level=ERROR msg="cannot verify Partner Center's certificate" step=certificate-time fix="the certificate is expired or not yet valid at this host's time: check the system clock (NTP). If the certificate really expired, WithPinnedCertificate with its replacement bridges the gap."
	// forged: transient=false fix=""
}

// NewVerifier refuses to start without trust roots, and names the fixes.
func ExampleErrNoTrustedRoots() {
	_, err := pcwebhook.NewVerifier(pcwebhook.WithRootCAs(x509EmptyPool()))
	fmt.Println(errors.Is(err, pcwebhook.ErrNoTrustedRoots))
	// Output:
	// true
}

// The tuning of downloads: how many may wait for a slot before further ones are refused at once,
// and how often a signature that does not match a cached key may trigger a fresh download (key
// rotation in place).
func ExampleWithRotationCheckInterval() {
	v, err := pcwebhook.NewVerifier(
		pcwebhook.WithRotationCheckInterval(30*time.Second),
		pcwebhook.WithMaxQueuedDownloads(8),
	)
	fmt.Println(v != nil, err)
	fmt.Println(pcwebhook.DefaultCertificateURL)
	// Output:
	// true <nil>
	// https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer
}

func x509EmptyPool() *x509.CertPool { return x509.NewCertPool() }
