#!/usr/bin/env bash
# bench/run.sh: every benchmark in bench/, each beside its peer, at sizes
# that finish in about ten minutes in all (docs/benchmarks.md has the
# full-size commands and the recorded results).
#
#   bash bench/run.sh            # all
#   bash bench/run.sh ingest     # one or more by directory name
#
# Run it on a quiet machine: the numbers are only comparable within a run.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

run() { # run NAME COMMAND...
  local name=$1; shift
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $name "* ]]; then return 0; fi
  echo "== $name: $*"
  "$@" || { echo "== $name FAILED" >&2; failed+=("$name"); }
}

only=("$@")
failed=()
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u '+%F %H:%M') UTC; load $(cut -d' ' -f1-3 /proc/loadavg)"

run ingest bash bench/ingest/run.sh 10s
run store go run ./bench/store -dir "$scratch/store" -events 200000
run ledger go run ./bench/ledger -dir "$scratch/ledger" -events 100000 -peer-events 100000
run scan env SIZE=$((256 << 20)) FILES=4 RUNS=1 DIR="$scratch/scan" bash bench/scan/run.sh
# Benchmarks of later capabilities bring their own run.sh.
for dir in bench/*/; do
  name=$(basename "$dir")
  case $name in ingest|store|ledger|scan) continue ;; esac
  [ -f "$dir/run.sh" ] && run "$name" bash "$dir/run.sh"
done

if [ ${#failed[@]} -gt 0 ]; then echo "failed: ${failed[*]}" >&2; exit 1; fi
