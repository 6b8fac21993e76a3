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

// allowFlags are --allow-cert-url and --allow-issuer-url: prefixes added to the library's
// allow-lists (listen, verify and check).
type allowFlags struct {
	cert   stringList
	issuer stringList
}

// define adds the allow-list flags to a flag set.
func (f *allowFlags) define(set *flag.FlagSet) {
	set.Var(&f.cert, "allow-cert-url", "also allow certificate URLs below this https `prefix` (repeatable), e.g. for a sovereign cloud")
	set.Var(&f.issuer, "allow-issuer-url", "also allow downloading missing issuer certificates below this `prefix` (repeatable)")
}

// certPrefixes returns the certificate URL allow-list of the production policy: the library's
// prefixes and those of --allow-cert-url.
func (f *allowFlags) certPrefixes() []string {
	return append(pcwebhook.DefaultCertificateURLPrefixes(), f.cert...)
}

// options returns the verifier options of the production policy that the flags ask for: none
// when neither flag is given.
func (f *allowFlags) options() []pcwebhook.VerifierOption {
	var opts []pcwebhook.VerifierOption
	if len(f.cert) > 0 {
		opts = append(opts, pcwebhook.WithCertificateURLPrefixes(f.certPrefixes()...))
	}
	if len(f.issuer) > 0 {
		opts = append(opts, pcwebhook.WithIssuerURLPrefixes(append(pcwebhook.DefaultIssuerURLPrefixes(), f.issuer...)...))
	}
	return opts
}

// trustFlags are the flags of listen and verify that choose what the verifier trusts.
type trustFlags struct {
	dev       bool
	configDir string
	allow     allowFlags

	// extra are options a command adds after the ones the flags make (verify --cert).
	extra []pcwebhook.VerifierOption
}

// define adds the trust flags to a flag set.
func (f *trustFlags) define(set *flag.FlagSet) {
	set.BoolVar(&f.dev, "dev", false, "trust the local development CA of \"pcwebhook trigger\" instead of Partner Center")
	defineConfigDir(set, &f.configDir)
	f.allow.define(set)
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
	t, opts, err := a.trustPolicy(f, create)
	if err != nil {
		return nil, err
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
	if t.verifier, err = pcwebhook.NewVerifier(opts...); err != nil {
		return nil, err
	}
	return t, nil
}

// trustPolicy returns what the flags trust (without the verifier yet) and the verifier options
// that say so.
func (a *app) trustPolicy(f *trustFlags, create bool) (*trust, []pcwebhook.VerifierOption, error) {
	if !f.dev {
		t := &trust{prefixes: f.allow.certPrefixes()}
		t.policy = "the production policy: Partner Center's certificate from " + strings.Join(t.prefixes, ", ") +
			", chained to this system's roots"
		return t, f.allow.options(), nil
	}
	ca, created, err := a.devTrustCA(f.configDir, create)
	if err != nil {
		return nil, nil, err
	}
	t := &trust{ca: ca, created: created, prefixes: append([]string{devCertURLPrefix}, f.allow.cert...)}
	t.policy = "the development CA in " + ca.dir + " (what \"pcwebhook trigger\" signs with; nothing is downloaded)"
	return t, ca.verifierOptions(f.allow.cert), nil
}

// devTrustCA loads the development CA of the configuration directory (configDirFlag, or its
// default) for --dev, creating it when create is set and there is none.
func (a *app) devTrustCA(configDirFlag string, create bool) (*devCA, bool, error) {
	dir, err := a.configDir(configDirFlag)
	if err != nil {
		return nil, false, err
	}
	if create {
		return ensureDevCA(dir, time.Now())
	}
	devDir := filepath.Join(dir, devSubdir)
	ca, err := loadDevCA(devDir)
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("there is no development CA in %s: \"pcwebhook trigger\" and \"pcwebhook listen --dev\" create it", devDir)
	}
	return ca, false, err
}
