#!/usr/bin/env bash
# End-to-end events/s of the scaled-out Custos (gateway -> NATS JetStream ->
# 1 or 2 detectors -> PostgreSQL) against the embedded single process, in
# one run, plus the bus's own cost per event. Needs PostgreSQL on
# 127.0.0.1:5432 and NATS with JetStream on 127.0.0.1:4222 (the local
# services); creates and drops its own schema and streams.
#
# Usage: bash bench/cluster/run.sh [EVENTS]   (default 40000)
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-40000}
echo "# $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)"
go run ./bench/cluster -events "$events" -nats-pid "$(pgrep -xo nats-server || echo 0)" 2> >(grep -v 'nats: disconnected' >&2)
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
