#!/usr/bin/env bash
# What a read replica buys: the year report and the public feed read while
# payments are written, with and without GRANTS_READ_DATABASE_URL.
#
#   bash bench/replica.sh [years] [awards-per-year] [seconds]      (defaults 10 1000 20)
#
# Makes a PostgreSQL primary of its own (initdb, on 127.0.0.1:55432) and a streaming replica of
# it (pg_basebackup -R, on 127.0.0.1:55433), generates the ledger into the primary through the
# service's own write paths, and starts `grants serve` on 127.0.0.1:18093 four times: reading
# everything from the primary, then with the replica, twice each (primary, replica, replica,
# primary, so the ledger's growth from run to run weighs on both alike). Each time, for each read, wrk writes
# payments (8 connections) while a second wrk reads (4 connections) for the given seconds.
# Prints each run's reads and writes a second and their latencies, and the CPU seconds the
# primary's and the replica's PostgreSQL processes used during it. Results are in BENCHMARKS.md.
set -euo pipefail
YEARS=${1:-10}
PER_YEAR=${2:-1000}
SECS=${3:-20}
DB=grants_bench_replica
export GRANTS_BIND=127.0.0.1:18093
command -v wrk >/dev/null 2>&1 || apt-get install -y -q wrk >/dev/null
source "$(dirname "$0")/common.sh"
export BENCH_DIR=$PWD/bench
OUT=target/bench-replica
mkdir -p "$OUT"

BIN=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -n | tail -n1)/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
ROOT=$(mktemp -d /tmp/grants-bench-clusters.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres:postgres "$ROOT"
PRIMARY=55432
REPLICA=55433
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  as_pg "$BIN/pg_ctl" -D "$ROOT/replica" -m immediate stop >/dev/null 2>&1 || true
  as_pg "$BIN/pg_ctl" -D "$ROOT/primary" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$ROOT"
}
trap cleanup EXIT
settings() { # port dir
  printf "\nport = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nwal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nhot_standby_feedback = on\n" "$1" "$2"
}
as_pg "$BIN/initdb" -D "$ROOT/primary" -U postgres --auth=trust -E UTF8 >/dev/null
settings $PRIMARY "$ROOT/primary" | as_pg tee -a "$ROOT/primary/postgresql.conf" >/dev/null
as_pg "$BIN/pg_ctl" -D "$ROOT/primary" -l "$ROOT/primary.log" -w start >/dev/null

export DATABASE_URL="postgres://postgres@127.0.0.1:$PRIMARY/$DB?sslmode=disable"
echo "generating ${YEARS} years x ${PER_YEAR} awards into the primary..."
/usr/bin/time -f "generated in %es" target/release/examples/generate_ledger "$YEARS" "$PER_YEAR"
PSQL=(psql -h 127.0.0.1 -p $PRIMARY -U postgres -d "$DB" -qAt)
"${PSQL[@]}" -c "VACUUM ANALYZE"
"${PSQL[@]}" -c "SELECT id FROM awards WHERE financial_year = '2020-21' AND status = 'approved'" >"$OUT/ids"
export IDS=$PWD/$OUT/ids
"${PSQL[@]}" -c "SELECT count(*) || ' awards, ' || (SELECT count(*) FROM payments) || ' payments, ' || (SELECT count(*) FROM audit_events) || ' audit events' FROM awards"

as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p $PRIMARY -U postgres -D "$ROOT/replica" -R -X stream -c fast
settings $REPLICA "$ROOT/replica" | as_pg tee -a "$ROOT/replica/postgresql.conf" >/dev/null
as_pg "$BIN/pg_ctl" -D "$ROOT/replica" -l "$ROOT/replica.log" -w start >/dev/null
REPLICA_URL="postgres://postgres@127.0.0.1:$REPLICA/$DB?sslmode=disable"

cpu() { # data directory: CPU seconds used so far by that cluster's processes
  local master
  master=$(head -n1 "$1/postmaster.pid")
  { echo "$master"; pgrep -P "$master" || true; } | while read -r pid; do
    awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null || true
  done | awk -v hz="$(getconf CLK_TCK)" '{s += $1} END {printf "%.1f", s / hz}'
}

serve() { # with or without the replica
  if [ "$1" = replica ]; then
    GRANTS_READ_DATABASE_URL=$REPLICA_URL target/release/grants serve & SERVER=$!
  else
    target/release/grants serve & SERVER=$!
  fi
  for _ in $(seq 1 100); do curl -sf "http://$GRANTS_BIND/readyz" >/dev/null && break; sleep 0.1; done
}

summary() { # wrk output file: "requests/s p50 p99"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ *50%/ { p50 = ms($2) } /^ *99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    END { printf "%.0f/s, p50 %.1f ms, p99 %.1f ms", rps, p50, p99 }' "$1"
}

echo "| reads from | read | reads | payments written meanwhile | primary's CPU | replica's CPU |"
echo "| --- | --- | --- | --- | --- | --- |"
# Each run's payments make the next run's report read more: the order primary, replica, replica,
# primary puts as much growth before the replica's runs as before the primary's.
for where in primary replica replica primary; do
  serve "$where"
  FINANCE=$(target/release/grants token --sub bench-finance --role finance --ttl 2h)
  READER=$(target/release/grants token --sub bench-reader --role auditor --ttl 2h)
  for read in year_report feed; do
    # Warm both: the pool filled, the pages cached.
    TOKEN=$READER wrk -t1 -c2 -d2s -s "bench/wrk/$read.lua" "http://$GRANTS_BIND" >/dev/null
    p0=$(cpu "$ROOT/primary"); r0=$(cpu "$ROOT/replica")
    TOKEN=$FINANCE wrk -t1 -c8 -d"${SECS}s" --latency -s bench/wrk/payment.lua "http://$GRANTS_BIND" >"$OUT/$where-$read-writes.txt" &
    WRITER=$!
    TOKEN=$READER wrk -t1 -c4 -d"${SECS}s" --latency -s "bench/wrk/$read.lua" "http://$GRANTS_BIND" >"$OUT/$where-$read-reads.txt"
    wait $WRITER
    p1=$(cpu "$ROOT/primary"); r1=$(cpu "$ROOT/replica")
    echo "| $where | $read | $(summary "$OUT/$where-$read-reads.txt") | $(summary "$OUT/$where-$read-writes.txt") | $(awk -v a="$p0" -v b="$p1" 'BEGIN {printf "%.1f s", b - a}') | $(awk -v a="$r0" -v b="$r1" 'BEGIN {printf "%.1f s", b - a}') |"
  done
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
done
