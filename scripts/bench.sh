#!/usr/bin/env bash
# Runs the benchmarks that carry pcwebhook's speed targets and prints their medians and ratios.
#
#   scripts/bench.sh [rounds]      (default 10 rounds)
#
# The test binary is built once; each round runs every benchmark once, so the benchmarks are
# interleaved and a noisy neighbour slows all of them alike. GOMAXPROCS is 1 so that the garbage
# collector's background work is charged to the benchmark that causes it. A ratio is the median,
# over the rounds, of the benchmark's time divided by the floor's time in the same round.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/pcwebhook.test" . >/dev/null
benches='^(BenchmarkRSAFloor|BenchmarkVerify|BenchmarkVerifyReplay|BenchmarkHandler|BenchmarkHandlerDefault|BenchmarkParseEvent)$'
for i in $(seq "$rounds"); do
  "$tmp/pcwebhook.test" -test.run '^$' -test.bench "$benches" -test.benchmem -test.cpu 1 -test.count 1 |
    grep '^Benchmark' >>"$tmp/raw.txt"
  printf '.' >&2
done
echo >&2

echo "pcwebhook benchmarks: $(date -u +%Y-%m-%d), $(go version | awk '{print $3, $4}'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $(cut -d' ' -f1 /proc/loadavg) at the end, GOMAXPROCS=1, median of $rounds interleaved rounds"
echo
awk '
  {
    name=$1; sub(/-[0-9]+$/, "", name); r = ++rounds[name]; ns[name, r] = $3; all[name] = all[name] " " $3
    for (i = 4; i < NF; i++) { if ($(i+1) == "B/op") b[name]=$i; if ($(i+1) == "allocs/op") a[name]=$i }
  }
  function median(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j+1] = v[j]; v[j+1] = t }
    return (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
  }
  # ratio is the median over the rounds of name / floor measured in the same round.
  function ratio(name,   r, list) {
    for (r = 1; r <= rounds[name]; r++) list = list " " ns[name, r] / ns["BenchmarkRSAFloor", r]
    return median(list)
  }
  END {
    n = split("BenchmarkRSAFloor BenchmarkVerify BenchmarkVerifyReplay BenchmarkHandler BenchmarkHandlerDefault BenchmarkParseEvent", names, " ")
    printf "| %-23s | %10s | %8s | %9s | %8s |\n", "benchmark", "ns/op", "B/op", "allocs/op", "/ floor"
    printf "|%s|%s|%s|%s|%s|\n", "-------------------------", "------------", "----------", "-----------", "----------"
    for (k = 1; k <= n; k++) { x = names[k]; printf "| %-23s | %10.0f | %8s | %9s | %8.3f |\n", x, median(all[x]), b[x], a[x], ratio(x) }
    print ""
    printf "Verify/floor  = %.3f   (target <= 1.03; new deliveries)\n", ratio("BenchmarkVerify")
    printf "Handler/floor = %.3f   (target <= 1.10; logger discarding)\n", ratio("BenchmarkHandler")
    printf "Default Handler/floor = %.3f   (target <= 1.10; NewHandler defaults, slog.Default() to a pipe)\n", ratio("BenchmarkHandlerDefault")
    printf "Verify replay/floor = %.3f   (an exact repeat, answered from the memo of verified deliveries)\n", ratio("BenchmarkVerifyReplay")
  }' "$tmp/raw.txt"
