#!/usr/bin/env bash
# Runs every fuzz target in the module for the given time each (default 10s).
set -euo pipefail
t=${1:-10s}
for dir in $(go list -f '{{.Dir}}' ./...); do
  pkg=$(go list "$dir")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //' | sort -u); do
    echo "== $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" "$pkg"
  done
done
