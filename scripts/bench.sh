#!/usr/bin/env bash
# Runs the benchmarks that carry pcwebhook's speed targets and prints their medians and ratios.
#
#   scripts/bench.sh [rounds]      (default 10 rounds)
#
# The test binary is built once; each round runs every benchmark once, so the benchmarks are
# interleaved and a noisy neighbour slows all of them alike. GOMAXPROCS is 1 so that the garbage
# collector's background work is charged to the benchmark that causes it. Ratios are medians over
# the rounds, measured in this one run.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/pcwebhook.test" . >/dev/null
benches='^(BenchmarkRSAFloor|BenchmarkVerify|BenchmarkHandler|BenchmarkHandlerDefault|BenchmarkParseEvent)$'
for i in $(seq "$rounds"); do
  "$tmp/pcwebhook.test" -test.run '^$' -test.bench "$benches" -test.benchmem -test.cpu 1 -test.count 1 |
    grep '^Benchmark' >>"$tmp/raw.txt"
  printf '.' >&2
done
echo >&2

echo "pcwebhook benchmarks: $(date -u +%Y-%m-%d), $(go version | awk '{print $3, $4}'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), GOMAXPROCS=1, median of $rounds interleaved rounds"
echo
awk '
  {
    name=$1; sub(/-[0-9]+$/, "", name); ns[name]=ns[name] " " $3
    for (i = 4; i < NF; i++) { if ($(i+1) == "B/op") b[name]=$i; if ($(i+1) == "allocs/op") a[name]=$i }
  }
  function median(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j+1] = v[j]; v[j+1] = t }
    return (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
  }
  END {
    order = "BenchmarkRSAFloor BenchmarkVerify BenchmarkHandler BenchmarkHandlerDefault BenchmarkParseEvent"
    split(order, names, " ")
    printf "| %-23s | %10s | %8s | %9s |\n", "benchmark", "ns/op", "B/op", "allocs/op"
    printf "|%s|%s|%s|%s|\n", "-------------------------", "------------", "----------", "-----------"
    for (k = 1; k <= 5; k++) { n = names[k]; m[n] = median(ns[n]); printf "| %-23s | %10.0f | %8s | %9s |\n", n, m[n], b[n], a[n] }
    print ""
    printf "Verify/floor  = %.2f   (target <= 1.10)\n", m["BenchmarkVerify"] / m["BenchmarkRSAFloor"]
    printf "Handler/floor = %.2f   (target <= 1.20; logger discarding)\n", m["BenchmarkHandler"] / m["BenchmarkRSAFloor"]
    printf "Default Handler/floor = %.2f   (target <= 1.20; NewHandler defaults, slog.Default() to a pipe)\n", m["BenchmarkHandlerDefault"] / m["BenchmarkRSAFloor"]
  }' "$tmp/raw.txt"
