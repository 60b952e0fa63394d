#!/usr/bin/env bash
# PostgreSQL gateway throughput, in one run: pgbench select-only (-S) and a
# masking-heavy query (1,000 rows x phone and ID number) against
#   direct    the PostgreSQL server itself
#   pgbouncer PgBouncer in session mode (installed here when missing)
#   custos-all the same with postgres.record_all: a durable event for every
#             statement, personal data or not (select-only workload)
#   custos    `custos serve` with the PostgreSQL gateway: policy, catalogue,
#             masking, durable access events and detection on; the ledger
#             off (LEDGER=true turns it on: it cannot yet take an event of
#             1,000 subjects, see docs/benchmarks.md)
# Prints TPS, the ratio to PgBouncer and to direct, p99 latency (from
# pgbench --log), masking throughput in rows/s and the CPU time per
# transaction of client, proxy and server together (which a neighbour's
# load changes little), then a Markdown table for docs/benchmarks.md.
#
# Usage: bash bench/pgwire/run.sh            (DUR=15 CLIENTS=4 SCALE=10;
#        CUSTOS_BIN=path uses a built binary instead of building one;
#        KINDS="select" and TARGETS="direct pgbouncer custos" run a subset;
#        ROUNDS=3 repeats every measurement and reports the median)
# Needs the local PostgreSQL of scripts/services.sh (127.0.0.1:5432, trust).
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${DUR:-15}
CLIENTS=${CLIENTS:-4}
SCALE=${SCALE:-10}
MASK_CLIENTS=${MASK_CLIENTS:-2}
PGHOST=127.0.0.1 PGPORT=5432
db=custos_bench_pgwire

log() { echo "bench/pgwire: $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; log "port $1 did not open"; return 1; }
runas() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; else "$@"; fi; }

if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  [ "$(id -u)" = 0 ] || { log "pgbouncer missing: apt-get install pgbouncer"; exit 1; }
  log "installing pgbouncer"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
fi
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/pgbouncer.pid" ] && kill "$(cat "$work/pgbouncer.pid")" 2>/dev/null || true
  sleep 0.5
  psql -h $PGHOST -p $PGPORT -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

# The database: pgbench tables and 1,000 people with phone and ID numbers.
psql -h $PGHOST -p $PGPORT -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres
psql -h $PGHOST -p $PGPORT -U postgres -qc "CREATE DATABASE $db" postgres
pgbench -h $PGHOST -p $PGPORT -U postgres -i -s "$SCALE" -q "$db" >/dev/null 2>&1
psql -h $PGHOST -p $PGPORT -U postgres -q -v ON_ERROR_STOP=1 "$db" <<'SQL'
CREATE FUNCTION cn_id(d17 text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT d17 || substr('10X98765432', (SELECT sum(substr(d17, i::int, 1)::int * w) FROM
    unnest(ARRAY[7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2]) WITH ORDINALITY AS t(w, i))::int % 11 + 1, 1) $$;
CREATE TABLE people (id int PRIMARY KEY, phone text, id_number text);
INSERT INTO people SELECT g, '138' || lpad((g * 7919 % 100000000)::text, 8, '0'),
  cn_id('110105' || (1950 + g % 50)::text || lpad((1 + g % 12)::text, 2, '0') || lpad((1 + g % 28)::text, 2, '0') || lpad((g % 1000)::text, 3, '0'))
FROM generate_series(1, 1000) g;
VACUUM ANALYZE;
SQL
echo 'SELECT id, phone, id_number FROM people;' > "$work/mask.sql"

# PgBouncer, session mode.
bport=$(free_port)
cat > "$work/pgbouncer.ini" <<INI
[databases]
$db = host=127.0.0.1 port=$PGPORT dbname=$db user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 50
pidfile = $work/pgbouncer.pid
logfile = $work/pgbouncer.log
INI
echo '"postgres" ""' > "$work/userlist.txt"
chown -R postgres: "$work" 2>/dev/null || true
runas "$PGBOUNCER" -d "$work/pgbouncer.ini"
wait_port "$bport"

# Custos: policy masks phone and ID numbers for analysts; events durable.
if [ -n "${CUSTOS_BIN:-}" ]; then cp "$CUSTOS_BIN" "$work/custos"; else go build -o "$work/custos" ./cmd/custos; fi
verifier=$(printf 'bench-pw\n' | "$work/custos" pg passwd)
cat > "$work/policy.yaml" <<'YAML'
version: 1
name: bench
defaults: {sensitive: mask, other: mask, mask: {cn_mobile: partial, cn_id: partial}}
rules:
  - id: analysts-masked
    match: {systems: [bench], roles: [analyst]}
    decision: mask
    mask: {cn_mobile: partial, cn_id: partial}
YAML
cat > "$work/catalog.yaml" <<'YAML'
version: 1
resources:
  - system: bench
    table: public.people
    columns:
      id_number: {type: cn_id, subject_key: true}
      phone: {type: cn_mobile}
YAML
# start_custos NAME RECORD_ALL: one node per target, own data dir; sets port.
start_custos() {
  local name=$1 all=$2 aport
  port=$(free_port); aport=$(free_port)
  "$work/custos" init --data "$work/data-$name" >/dev/null
  cat > "$work/custos-$name.yaml" <<YAML
data_dir: $work/data-$name
log: {level: warn}
api: {listen: 127.0.0.1:$aport}
ledger: {enabled: ${LEDGER:-false}}
policy: {file: $work/policy.yaml, catalog: $work/catalog.yaml}
postgres:
  enabled: true
  listen: 127.0.0.1:$port
  system: bench
  record_all: $all
  upstream: {address: 127.0.0.1:$PGPORT, database: $db, sslmode: disable, meta: {user: postgres}}
  credentials: [{role: analyst, user: postgres}]
  users: [{name: analyst, verifier: '$verifier', roles: [analyst]}]
YAML
  "$work/custos" serve -c "$work/custos-$name.yaml" ${CUSTOS_BENCH_PROFILE:+--cpuprofile "$CUSTOS_BENCH_PROFILE.$name"} >"$work/custos-$name.log" 2>&1 &
  pids+=($!) started_pid=$!
  wait_port "$port"
}
start_custos custos false; cport=$port cpid=$started_pid
start_custos custos-all true; cport_all=$port cpid_all=$started_pid

machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "machine: $machine; $(date -u '+%F %H:%M') UTC; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pgbench: -S scale $SCALE, $CLIENTS clients, ${DUR}s; masking: 1000 rows x (id, phone, id_number), $MASK_CLIENTS clients, ${DUR}s"

# CPU accounting, so that a run on a shared machine still says what each
# target costs: CPU time per transaction of the client (pgbench), the
# proxy and the server (every live server process, and the backends that
# exited, which the postmaster reaped). On a 2-core machine that all three
# saturate, TPS is about 2 s / their total.
tck=$(getconf CLK_TCK)
postmaster=$(pgrep -o -x postgres || pgrep -o postgres || echo "")
ticks() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" || echo 0; }
server_ticks() {
  [ -n "$postmaster" ] || { echo 0; return; }
  { cat "/proc/$postmaster/stat"; for p in $(pgrep -P "$postmaster"); do cat "/proc/$p/stat" 2>/dev/null; done; } |
    awk -v pm="$postmaster" '{ t += $14 + $15; if ($1 == pm) t += $16 + $17 } END { print t + 0 }'
}
if [ ! -x /usr/bin/time ]; then
  (apt-get install -y -qq time || { apt-get update -qq && apt-get install -y -qq time; }) >/dev/null 2>&1 || true
fi

# bench NAME PORT USER PROXY-PID SCRIPT-ARGS... -> "tps p99_ms cpu_us_client cpu_us_proxy cpu_us_server"
bench() {
  local name=$1 port=$2 user=$3 proxy=$4; shift 4
  local dir="$work/log-$name"; mkdir -p "$dir"
  local p0 s0 p1 s1
  p0=$(ticks "$proxy") s0=$(server_ticks)
  PGPASSWORD=bench-pw /usr/bin/time -f '%U %S' -o "$dir/time" pgbench -h 127.0.0.1 -p "$port" -U "$user" -n -j 2 -T "$DUR" -l --log-prefix="$dir/tx" "$@" "$db" >"$dir/out" 2>&1 ||
    { log "$name failed:"; cat "$dir/out" >&2; tail -n 20 "$work"/custos-*.log >&2; echo "0 0 0 0 0"; return; }
  sleep 0.3 # the backends exit and are reaped
  p1=$(ticks "$proxy") s1=$(server_ticks)
  local tps p99 n
  if grep -q "aborted\|ERROR" "$dir/out"; then log "$name had errors:"; cat "$dir/out" >&2; fi
  tps=$(awk '/^tps = /{print $3; exit}' "$dir/out")
  n=$(awk -F': ' '/number of transactions actually processed/{print $2+0; exit}' "$dir/out")
  p99=$(cat "$dir"/tx* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END{i=int(NR*0.99); if(i<1)i=1; printf "%.2f", v[i]/1000}')
  awk -v tps="$tps" -v p99="$p99" -v n="$n" -v tck="$tck" -v dp=$((p1 - p0)) -v ds=$((s1 - s0)) -v c="$(cat "$dir/time")" 'BEGIN{
    split(c, t, " "); if (n < 1) n = 1
    printf "%s %s %.0f %.0f %.0f\n", tps, p99, (t[1] + t[2]) * 1e6 / n, dp / tck * 1e6 / n, ds / tck * 1e6 / n }'
}

declare -A tps p99 cpu last_cpu
KINDS=${KINDS:-select mask}
TARGETS=${TARGETS:-direct pgbouncer custos custos-all}
ROUNDS=${ROUNDS:-1}
median() { tr ' ' '\n' | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
for kind in $KINDS; do
  declare -A runs_t=() runs_p=() runs_cpu=()
  for round in $(seq 1 "$ROUNDS"); do
  # Targets alternate within a round, so that a neighbour's load falls on
  # all of them rather than on one.
  for target in $TARGETS; do
    [ $kind = mask ] && [ $target = custos-all ] && continue # every masking query is recorded anyway
    case $target in
      direct) port=$PGPORT user=postgres proxy="" ;;
      pgbouncer) port=$bport user=postgres proxy=$(cat "$work/pgbouncer.pid") ;;
      custos) port=$cport user=analyst proxy=$cpid ;;
      custos-all) port=$cport_all user=analyst proxy=$cpid_all ;;
    esac
    if [ $kind = select ]; then args=(-S -c "$CLIENTS"); else args=(-f "$work/mask.sql" -c "$MASK_CLIENTS"); fi
    read -r t p cc cp cs < <(bench "$kind-$target-$round" "$port" "$user" "$proxy" "${args[@]}")
    runs_t[$target]="${runs_t[$target]:-} $t" runs_p[$target]="${runs_p[$target]:-} $p"
    runs_cpu[$target]="${runs_cpu[$target]:-} $((cc + cp + cs))"
    last_cpu[$kind-$target]="$cc $cp $cs"
    log "$kind $target (round $round): $t tps, p99 $p ms; CPU µs/tx: client $cc, proxy $cp, server $cs"
  done
  done
  for target in "${!runs_t[@]}"; do
    tps[$kind-$target]=$(echo ${runs_t[$target]} | median)
    p99[$kind-$target]=$(echo ${runs_p[$target]} | median)
    cpu[$kind-$target]=$(echo ${runs_cpu[$target]} | median)
  done
done
# Masking must have happened: a masked phone through Custos, never a clear one.
masked=$(PGPASSWORD=bench-pw psql -h 127.0.0.1 -p "$cport" -U analyst -tAc "SELECT phone FROM people WHERE id = 1" "$db")
echo "custos answer for people.phone of id 1: $masked"
case $masked in *'****'*) ;; *) log "Custos did not mask people.phone"; exit 1 ;; esac
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo
echo "| workload | target | TPS | × PgBouncer | × direct | p99 ms | rows/s | CPU µs/tx | PgBouncer's CPU / this |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for kind in $KINDS; do
  for target in $TARGETS; do
    [ -n "${tps[$kind-$target]:-}" ] || continue
    t=$(printf '%.0f' "${tps[$kind-$target]}")
    rows="-"; [ $kind = mask ] && rows=$(awk -v t="$t" 'BEGIN{printf "%.0f", t * 1000}')
    label="pgbench -S"; [ $kind = mask ] && label="1,000-row masking query"
    echo "| $label | $target | $t | $(ratio "$t" "${tps[$kind-pgbouncer]}") | $(ratio "$t" "${tps[$kind-direct]}") | ${p99[$kind-$target]} | $rows | ${cpu[$kind-$target]} | $(ratio "${cpu[$kind-pgbouncer]:-0}" "${cpu[$kind-$target]}") |"
  done
done
