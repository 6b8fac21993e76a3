// Command loadtest measures pcwebhook under load and under attack, on loopback, in one process:
// it starts the real Handler behind net/http, drives it over real TCP with keep-alive clients,
// and prints a table and one JSON line per scenario.
//
//	go run ./internal/cmd/loadtest [-duration 10s] [-concurrency 8] [-scenario all] [-rounds 3] [-check]
//
// Scenarios (in this order, each round; floor runs right before valid, and replay right before
// foreign-cert-url, so that each ratio is read from neighbouring runs):
//
//	floor             a bare net/http server that only verifies the RSA signature of the bodies
//	valid             unique, correctly signed events (signed before the clock starts)
//	duplicates        one delivery, handled first, then repeated: the deduplication path
//	bad-signature     a flood of tampered bodies
//	replay            a flood of one captured genuine delivery (handled first), sent again and again
//	foreign-cert-url  a flood naming a certificate URL outside the allow-list (no RSA operation);
//	                  a canary server on loopback counts every connection that reaches it
//
// Every scenario gets a fresh Handler and Verifier, so each starts with a cold certificate cache.
// The scenarios run -rounds times, interleaved; a throughput ratio is the median of the rounds'
// ratios, and every other target must hold in every round. With -check the exit status is 1 when
// a target (see docs/performance.md) is missed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// config is the command line.
type config struct {
	duration    time.Duration
	concurrency int
	scenarios   []string
	valid       int
	duplicates  int
	hostile     int
	rounds      int
	check       bool
	cpuProfile  string
}

var allScenarios = []string{"floor", "valid", "duplicates", "bad-signature", "replay", "foreign-cert-url"}

func main() { os.Exit(mainCode()) }

// mainCode runs the command and returns its exit status: 2 for bad flags, 1 for an error or (with
// -check) a missed target.
func mainCode() int {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ok, err := run(context.Background(), cfg, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 1
	}
	if cfg.check && !ok {
		return 1
	}
	return 0
}

// startCPUProfile starts writing a CPU profile to path; stop ends it.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var scen string
	fs.DurationVar(&cfg.duration, "duration", 20*time.Second, "time limit of each scenario")
	fs.IntVar(&cfg.concurrency, "concurrency", 8, "concurrent keep-alive clients")
	fs.StringVar(&scen, "scenario", "all", "comma-separated scenarios, or all: "+strings.Join(allScenarios, ","))
	fs.IntVar(&cfg.valid, "valid", 30000, "requests of the floor and valid scenarios (each body signed beforehand)")
	fs.IntVar(&cfg.duplicates, "duplicates", 10000, "requests of the duplicates scenario")
	fs.IntVar(&cfg.hostile, "hostile", 50000, "requests of each hostile scenario (bad-signature, replay, foreign-cert-url)")
	fs.IntVar(&cfg.rounds, "rounds", 3, "times the scenarios run, interleaved")
	fs.BoolVar(&cfg.check, "check", false, "exit 1 when a target is missed")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the scenarios (client and server; not the signing before them) to this file")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if scen == "all" {
		cfg.scenarios = allScenarios
	} else {
		for _, s := range strings.Split(scen, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(allScenarios, s) {
				fmt.Fprintf(stderr, "unknown scenario %q (have %s)\n", s, strings.Join(allScenarios, ", "))
				return cfg, errors.New("bad -scenario")
			}
			cfg.scenarios = append(cfg.scenarios, s)
		}
	}
	if cfg.concurrency < 1 || cfg.valid < 1 || cfg.duplicates < 1 || cfg.hostile < 1 || cfg.rounds < 1 || cfg.duration <= 0 {
		fmt.Fprintln(stderr, "counts, -concurrency, -rounds and -duration must be positive")
		return cfg, errors.New("bad flags")
	}
	return cfg, nil
}

// run executes the scenarios, prints the table and the JSON lines, and reports whether every
// target that the scenarios run allow to judge was met.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) (bool, error) {
	r, err := newRig(cfg, stderr)
	if err != nil {
		return false, err
	}
	defer r.close()
	if cfg.cpuProfile != "" { // after the signing, which is no part of what is measured
		stop, err := startCPUProfile(cfg.cpuProfile)
		if err != nil {
			return false, err
		}
		defer stop()
	}

	results := map[string][]*result{}
	var order []*result
	for round := 1; round <= cfg.rounds; round++ {
		for _, name := range allScenarios { // fixed order whatever the flag's order
			if !slices.Contains(cfg.scenarios, name) {
				continue
			}
			fmt.Fprintf(stderr, "round %d: running %s...\n", round, name)
			res, err := r.scenario(ctx, name)
			if err != nil {
				return false, fmt.Errorf("%s: %w", name, err)
			}
			res.Round = round
			results[name] = append(results[name], res)
			order = append(order, res)
		}
	}
	printTable(stdout, order)
	enc := json.NewEncoder(stdout)
	for _, res := range order {
		if err := enc.Encode(res); err != nil {
			return false, err
		}
	}
	fmt.Fprintln(stdout)
	return judge(stdout, results), nil
}
