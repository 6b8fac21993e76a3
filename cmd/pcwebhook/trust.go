package main

// This file turns the trust flags (--dev, --allow-cert-url, ...) into the Verifier that listen and
// verify use; verify.go is the verify command itself.

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/partnercenter-go/pcwebhook"
)

// trustFlags are the flags of listen and verify that choose what the verifier trusts.
type trustFlags struct {
	dev         bool
	configDir   string
	allowCert   stringList
	allowIssuer stringList

	// extra are options a command adds after the ones the flags make (verify --cert).
	extra []pcwebhook.VerifierOption
}

// trust is a configured verifier and what it trusts, in words.
type trust struct {
	verifier *pcwebhook.Verifier
	ca       *devCA // with --dev
	policy   string // one line for people
	created  bool   // the development CA was created now
	prefixes []string
}

// buildVerifier makes the verifier that the trust flags ask for. With --dev it trusts only the
// development CA (created when create is set and there is none); otherwise the production policy,
// with the extra allowed prefixes. at, when not zero, is the verifier's clock.
func (a *app) buildVerifier(f *trustFlags, create bool, at time.Time) (*trust, error) {
	t := &trust{}
	var opts []pcwebhook.VerifierOption
	if f.dev {
		dir, err := a.configDir(f.configDir)
		if err != nil {
			return nil, err
		}
		if create {
			t.ca, t.created, err = ensureDevCA(dir, time.Now())
		} else {
			devDir := filepath.Join(dir, devSubdir)
			t.ca, err = loadDevCA(devDir)
			if errors.Is(err, fs.ErrNotExist) {
				err = fmt.Errorf("there is no development CA in %s: \"pcwebhook trigger\" and \"pcwebhook listen --dev\" create it", devDir)
			}
		}
		if err != nil {
			return nil, err
		}
		opts = t.ca.verifierOptions(f.allowCert)
		t.prefixes = append([]string{devCertURLPrefix}, f.allowCert...)
		t.policy = "the development CA in " + t.ca.dir + " (what \"pcwebhook trigger\" signs with; nothing is downloaded)"
	} else {
		t.prefixes = append(pcwebhook.DefaultCertificateURLPrefixes(), f.allowCert...)
		if len(f.allowCert) > 0 {
			opts = append(opts, pcwebhook.WithCertificateURLPrefixes(t.prefixes...))
		}
		if len(f.allowIssuer) > 0 {
			opts = append(opts, pcwebhook.WithIssuerURLPrefixes(append(pcwebhook.DefaultIssuerURLPrefixes(), f.allowIssuer...)...))
		}
		t.policy = "the production policy: Partner Center's certificate from " + strings.Join(t.prefixes, ", ") +
			", chained to this system's roots"
	}
	if a.env.downloads != nil {
		opts = append(opts, pcwebhook.WithHTTPClient(a.env.downloads))
	}
	if a.env.roots != nil && !f.dev {
		opts = append(opts, pcwebhook.WithRootCAs(a.env.roots))
	}
	opts = append(opts, f.extra...)
	if !at.IsZero() {
		opts = append(opts, pcwebhook.WithClock(func() time.Time { return at }))
	}
	v, err := pcwebhook.NewVerifier(opts...)
	if err != nil {
		return nil, err
	}
	t.verifier = v
	return t, nil
}

// define adds the trust flags to a flag set.
func (f *trustFlags) define(set *flag.FlagSet) {
	set.BoolVar(&f.dev, "dev", false, "trust the local development CA of \"pcwebhook trigger\" instead of Partner Center")
	set.StringVar(&f.configDir, "config-dir", "", "the configuration `directory` holding dev/ (default: $"+configDirEnv+", or the user's configuration directory/pcwebhook)")
	set.Var(&f.allowCert, "allow-cert-url", "also allow certificate URLs below this https `prefix` (repeatable), e.g. for a sovereign cloud")
	set.Var(&f.allowIssuer, "allow-issuer-url", "also allow downloading missing issuer certificates below this `prefix` (repeatable)")
}
