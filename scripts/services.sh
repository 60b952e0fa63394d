#!/usr/bin/env bash
# Makes sure the services the integration tests talk to are running on
# loopback, installing and starting them when absent (fresh Debian with Go):
#   PostgreSQL 127.0.0.1:5432 (trust, user postgres, database test)
#   MariaDB    127.0.0.1:3306 (root, empty password, database test)
#   NATS       127.0.0.1:4222 with JetStream
#   chromium   /usr/bin/chromium (headless, for the console's browser tests)
# Services already listening are used as they are. Idempotent.
set -euo pipefail

log() { echo "services: $*" >&2; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 60); do listening "$1" && return 0; sleep 0.5; done
  log "port $1 did not open"; return 1
}
apt_updated=
need_pkg() { # need_pkg BINARY PACKAGE...
  command -v "$1" >/dev/null 2>&1 && return 0
  [ -x "/usr/sbin/$1" ] && return 0
  if [ "$(id -u)" != 0 ]; then log "$1 missing and not root: install $2"; return 1; fi
  if [ -z "$apt_updated" ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1; fi
  log "installing ${*:2}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:2}" >/dev/null
}

state=${CUSTOS_SERVICES_DIR:-/var/tmp/custos-test-services}
mkdir -p "$state"

postgres() {
  listening 5432 && return 0
  if ls /etc/postgresql/*/main >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null; then
    log "starting the system PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    if listening 5432 || { sleep 2; listening 5432; }; then return 0; fi
  fi
  need_pkg initdb postgresql || true
  local bin; bin=$(command -v initdb >/dev/null && dirname "$(command -v initdb)" || ls -d /usr/lib/postgresql/*/bin | tail -1)
  local dir="$state/pg"
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "creating a throwaway PostgreSQL cluster in $dir (trust auth)"
    mkdir -p "$dir"; chown -R postgres: "$state/pg" 2>/dev/null || true
    runas "$bin/initdb" -D "$dir" -A trust -U postgres >/dev/null
  fi
  runas "$bin/pg_ctl" -D "$dir" -l "$dir/log" -o "-p 5432 -k /tmp -c listen_addresses=127.0.0.1" -w start >/dev/null
  wait_port 5432
  psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 ||
    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
}

# PostgreSQL refuses to run as root.
runas() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; else "$@"; fi; }

mariadb_up() {
  listening 3306 && return 0
  need_pkg mariadbd mariadb-server
  log "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql: /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1
  wait_port 3306
  # Tests connect as root over TCP with an empty password.
  mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); CREATE DATABASE IF NOT EXISTS test" 2>/dev/null || true
}

nats_up() {
  listening 4222 && return 0
  need_pkg nats-server nats-server
  log "starting NATS with JetStream"
  mkdir -p "$state/nats"
  start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server || echo /usr/sbin/nats-server)" -- \
    -a 127.0.0.1 -p 4222 -js -sd "$state/nats" -l "$state/nats.log"
  wait_port 4222
}

# Client drivers the PostgreSQL gateway's client tests drive
# (pgwire/clients_test.go): psycopg2 for /usr/bin/python3, Debian's JDBC
# driver and a JDK to compile the test program. bench/pgwire/run.sh installs
# pgbouncer itself.
pg_clients() {
  local pkgs=()
  /usr/bin/python3 -c 'import psycopg2' 2>/dev/null || pkgs+=(python3-psycopg2)
  [ -f /usr/share/java/postgresql.jar ] || pkgs+=(libpostgresql-jdbc-java)
  command -v javac >/dev/null 2>&1 || pkgs+=(default-jdk-headless)
  [ ${#pkgs[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then log "not root: install ${pkgs[*]} for the gateway client tests"; return 0; fi
  if [ -z "$apt_updated" ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1; fi
  log "installing ${pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
}

# The console's end-to-end tests drive Debian's chromium headless through
# chromedp (no chromedriver needed); a CJK font makes the Chinese pages'
# screenshots legible.
chromium_up() {
  need_pkg chromium chromium
  if [ "$(id -u)" = 0 ] && ! fc-list 2>/dev/null | grep -qi 'wenquanyi\|noto sans cjk'; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null || log "no CJK font: Chinese screenshots show boxes"
  fi
}

postgres
mariadb_up
nats_up
pg_clients
chromium_up
log "PostgreSQL, MariaDB and NATS are up"
