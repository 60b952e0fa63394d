#!/usr/bin/env bash
# Durable ingest throughput, Custos vs PostgreSQL COPY, in one run.
# Usage: bash bench/ingest/run.sh [DURATION]   (default 20s)
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-20s}
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/custos" ./cmd/custos
go build -o "$work/load" ./bench/ingest
token=$("$work/custos" init --data "$work/data" | tail -1)
port=$((20000 + RANDOM % 20000))
env CUSTOS_API_LISTEN=127.0.0.1:$port CUSTOS_LOG_LEVEL=warn ${CUSTOS_BENCH_ENV:-} "$work/custos" serve --data "$work/data" ${CUSTOS_BENCH_PROFILE:+--cpuprofile "$CUSTOS_BENCH_PROFILE"} >/dev/null &
srv=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
"$work/load" -url "http://127.0.0.1:$port" -token "$token" -duration "$dur"
kill $srv; wait $srv 2>/dev/null || true
"$work/load" -pg "${CUSTOS_BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}" -duration "$dur"
psql -h 127.0.0.1 -U postgres test -qc 'DROP TABLE IF EXISTS bench_events, bench_event_subjects' 2>/dev/null || true
