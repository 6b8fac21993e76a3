#!/usr/bin/env bash
# Checks that every nested module of the repository builds against the core module's current tree:
# each module that requires github.com/partnercenter-go/pcwebhook (or one of its modules) has a
# replace directive pointing at that module's directory in this checkout, and `go build ./...` and
# `go vet ./...` pass in it (tests included, compiled but not run). Run from anywhere; exit 1 on the
# first module that does not.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
status=0
while IFS= read -r mod; do
  dir=$(dirname "$mod")
  [ "$dir" = "." ] && continue
  # Every module of this repository that the nested module requires must be replaced by its
  # directory here, so that the build uses the tree, not a published version.
  required=$(cd "$dir" && go list -m -f '{{if not .Main}}{{.Path}} {{if .Replace}}{{.Replace.Path}}{{end}}{{end}}' all |
    awk '$1 ~ /^github\.com\/partnercenter-go\/pcwebhook(\/|$)/')
  while read -r path replace; do
    [ -z "$path" ] && continue
    want="$root${path#github.com/partnercenter-go/pcwebhook}"
    got=$(cd "$dir" && cd "${replace:-/nonexistent}" 2>/dev/null && pwd || true)
    if [ "$got" != "$want" ]; then
      echo "$dir: $path is not replaced by its directory in this checkout (replace: '${replace:-none}')"
      status=1
    fi
  done <<<"$required"
  if ! (cd "$dir" && go build -o /dev/null ./... && go vet ./... >/dev/null); then
    echo "$dir: does not build against the core's current tree"
    status=1
  else
    echo "ok  $dir"
  fi
done < <(git ls-files '*go.mod' | sort)
exit $status
