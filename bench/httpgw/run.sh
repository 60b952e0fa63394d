#!/usr/bin/env bash
# HTTP gateway throughput and latency: wrk against a small Go upstream
# serving 10 KB JSON pages with personal data, in one run:
#   direct      wrk -> upstream
#   nginx       wrk -> nginx (plain reverse proxy, keepalive upstream) -> upstream
#   go-proxy    the same binary on a public route: Go's ReverseProxy alone
#   custos-nostore  the gateway with a store that keeps nothing (its own cost)
#   custos      wrk -> Custos HTTP gateway (identity header, policy, JSON
#               inspection and masking, one durable access event per
#               request in a SQLite store) -> upstream
#
# Usage: bash bench/httpgw/run.sh [DURATION] [CONNECTIONS]   (default 15s 32)
# Installs wrk and nginx with apt when absent. Leaves nothing running.
set -euo pipefail
dur=${1:-15s}
conns=${2:-32}
cd "$(dirname "$0")/../.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "installing $2" >&2; apt-get install -y "$2" >/dev/null; }; }
need wrk wrk
need nginx nginx

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

up=19101 gw=19102 ng=19103
go build -o "$tmp/httpgw-bench" ./bench/httpgw
"$tmp/httpgw-bench" upstream -addr 127.0.0.1:$up 2>"$tmp/upstream.log" &
pids+=($!)
"$tmp/httpgw-bench" gateway -addr 127.0.0.1:$gw -upstream http://127.0.0.1:$up -data "$tmp/data" ${CPUPROFILE:+-cpuprofile "$CPUPROFILE"} 2>"$tmp/gateway.log" &
pids+=($!)
# The same gateway with a store that keeps nothing: the gateway's own cost
# (inspection, masking, policy, sealing) without the durable append.
gwd=19104
"$tmp/httpgw-bench" gateway -addr 127.0.0.1:$gwd -upstream http://127.0.0.1:$up -data "$tmp/data-discard" -store discard 2>"$tmp/gateway-discard.log" &
pids+=($!)
# The gateway's proxy alone (a public route): Go's httputil.ReverseProxy
# with no identity, inspection or events, for where the time goes.
gwp=19105
"$tmp/httpgw-bench" gateway -addr 127.0.0.1:$gwp -upstream http://127.0.0.1:$up -data "$tmp/data-public" -public 2>"$tmp/gateway-public.log" &
pids+=($!)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  upstream app { server 127.0.0.1:$up; keepalive 64; }
  server {
    listen 127.0.0.1:$ng;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
pids+=($!)

hdr=(-H "X-Remote-User: emp-bench" -H "X-Remote-Roles: analyst")
for port in $up $gw $gwd $gwp $ng; do
	for _ in $(seq 100); do
		curl -sf "${hdr[@]}" -o /dev/null "http://127.0.0.1:$port/passengers" && break
		sleep 0.1
	done
done
echo "page through Custos (masked):" >&2
curl -s "${hdr[@]}" "http://127.0.0.1:$gw/passengers" -o "$tmp/page.json"
head -c 300 "$tmp/page.json" >&2
echo >&2

declare -A rps p99 p50
run() { # name url
	wrk -t2 -c"$conns" -d2s "${hdr[@]}" "$2" >/dev/null # warm-up
	wrk -t2 -c"$conns" -d"$dur" --latency "${hdr[@]}" "$2" >"$tmp/$1.wrk"
	cat "$tmp/$1.wrk" >&2
	rps[$1]=$(awk '/^Requests\/sec/ {print $2}' "$tmp/$1.wrk")
	p50[$1]=$(awk '$1=="50%" {print $2}' "$tmp/$1.wrk")
	p99[$1]=$(awk '$1=="99%" {print $2}' "$tmp/$1.wrk")
	if grep -q "Non-2xx" "$tmp/$1.wrk"; then echo "$1: non-2xx answers" >&2; exit 1; fi
}
run direct "http://127.0.0.1:$up/passengers"
run nginx "http://127.0.0.1:$ng/passengers"
run custos "http://127.0.0.1:$gw/passengers"
run custos-nostore "http://127.0.0.1:$gwd/passengers"
run go-proxy "http://127.0.0.1:$gwp/passengers"

ms() { # wrk latency (us/ms/s) -> ms
	awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.2f", n }'
}
echo
echo "wrk -t2 -c$conns -d$dur, 10 KB JSON (22 passengers), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| path | requests/s | p50 | p99 |"
echo "|---|---:|---:|---:|"
for k in direct nginx go-proxy custos-nostore custos; do
	echo "| $k | ${rps[$k]} | ${p50[$k]} | ${p99[$k]} |"
done
echo
awk -v c="${rps[custos]}" -v cd="${rps[custos-nostore]}" -v n="${rps[nginx]}" -v pc="$(ms "${p99[custos]}")" -v pcd="$(ms "${p99[custos-nostore]}")" -v pn="$(ms "${p99[nginx]}")" -v pd="$(ms "${p99[direct]}")" 'BEGIN {
	printf "Custos / nginx throughput: %.2f durable, %.2f without the store (target >= 0.80)\n", c/n, cd/n
	printf "added p99 over direct: nginx %.2f ms; Custos %.2f ms durable, %.2f ms without the store (target < 2 ms)\n", pn-pd, pc-pd, pcd-pd
}'
