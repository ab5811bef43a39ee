#!/usr/bin/env bash
# Runs every fuzz target in the module for a short budget each ($1, default 10s).
# go test -fuzz takes one target in one package at a time, so we list them first.
set -euo pipefail
budget=${1:-10s}
cd "$(git rev-parse --show-toplevel)"
found=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    found=1
    echo "fuzz: ./$dir $target ($budget)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" "./$dir"
  done
done < <(git ls-files '*_test.go')
[ $found -eq 1 ] || echo "fuzz: no targets yet"
