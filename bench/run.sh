#!/usr/bin/env bash
# The service against PostgreSQL itself, on this machine.
#
#   bash bench/run.sh [seconds-per-run]          (default 15)
#
# Builds release binaries, generates 10,000 awards (10 years x 1,000, with payments, returns and
# their audit trail) into a fresh database `grants_bench` (set BENCH_REUSE=1 to keep one already
# generated), starts `grants serve` on 127.0.0.1:18091 with its default settings, and at 16 and
# 64 connections measures with wrk:
#   (a) GET /awards/{id}            (b) POST /awards/{id}/payments (award lock + audit append)
#   (c) GET /reports/years/2020-21  (d) GET /awards/{id}/history
# and beside each, pgbench running the same SQL transactions (bench/pgbench/*.sql, taken from
# the statements the service sends) with the same number of connections. Prints a Markdown
# table (throughput, p50/p99 latency, ratio to pgbench) and the server's peak memory.
# BENCH_OPS and BENCH_CONNS narrow a run (e.g. BENCH_OPS="get_award award_history"
# BENCH_CONNS=16); the server's own settings (GRANTS_WORKERS, GRANTS_DB_POOL_SIZE…) pass through.
# Installs wrk and pgbench with apt-get when they are missing. Results and their reading are in
# BENCHMARKS.md. pgbench's audit events are not hashed the service's way, so after a run the
# throwaway database's chain no longer verifies.
set -euo pipefail
SECS=${1:-15}
DB=grants_bench
export GRANTS_BIND=127.0.0.1:18091
need() { # command package
  command -v "$1" >/dev/null 2>&1 || { echo "installing $2"; apt-get install -y -q "$2" >/dev/null; }
}
need wrk wrk
need pgbench postgresql-15
source "$(dirname "$0")/common.sh"
export BENCH_DIR=$PWD/bench
OUT=target/bench
mkdir -p "$OUT"

if [ "${BENCH_REUSE:-0}" != 1 ] || ! psql -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT 1 FROM bench_ids LIMIT 1" >/dev/null 2>&1; then
  generate 10 1000
  # The awards both sides draw from: the 1,000 approved awards of 2020-21, numbered for pgbench.
  psql -h 127.0.0.1 -U postgres -d "$DB" -qc "
    CREATE TABLE bench_ids AS
      SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM awards
      WHERE financial_year = '2020-21' AND status = 'approved';
    ALTER TABLE bench_ids ADD PRIMARY KEY (n);" -c "VACUUM ANALYZE"
fi
psql -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT id FROM bench_ids ORDER BY n" >"$OUT/ids"
export IDS=$PWD/$OUT/ids
AWARDS=$(wc -l <"$IDS")
psql -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT count(*) || ' awards, ' || (SELECT count(*) FROM payments) || ' payments, ' || (SELECT count(*) FROM audit_events) || ' audit events' FROM awards"

start_server
AUDITOR=$(target/release/grants token --sub bench-auditor --role auditor --ttl 2h)
FINANCE=$(target/release/grants token --sub bench-finance --role finance --ttl 2h)
# Start measuring from a steady state: the generated data written out, the pool filled.
psql -h 127.0.0.1 -U postgres -qc "CHECKPOINT"
TOKEN=$AUDITOR wrk -t2 -c16 -d3s -s bench/wrk/get_award.lua "http://$GRANTS_BIND" >/dev/null

# wrk: "requests/s p50 p99 errors"
run_wrk() { # script connections token
  TOKEN=$3 wrk -t2 -c"$2" -d"${SECS}s" --latency -s "bench/wrk/$1.lua" "http://$GRANTS_BIND" >"$OUT/wrk-$1-$2.txt"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ *50%/ { p50 = ms($2) } /^ *99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    /Non-2xx/ { errors = $NF } /Socket errors/ { errors += 1 }
    END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, errors }' "$OUT/wrk-$1-$2.txt"
}

# pgbench: "transactions/s p50 p99 failures", latencies from its per-transaction log
run_pgbench() { # script connections
  rm -f "$OUT"/pgbench_log.*
  (cd "$OUT" && pgbench -h 127.0.0.1 -U postgres -n -M prepared -c "$2" -j 2 -T "$SECS" -l \
      -D awards="$AWARDS" -f "$BENCH_DIR/pgbench/$1.sql" "$DB") >"$OUT/pgbench-$1-$2.txt" 2>&1
  local tps failed
  tps=$(awk '/^tps/ { print $3 }' "$OUT/pgbench-$1-$2.txt")
  failed=$(awk '/number of failed transactions/ { print $5 }' "$OUT/pgbench-$1-$2.txt")
  cat "$OUT"/pgbench_log.* | awk '{ print $3 / 1000 }' | sort -n | awk -v tps="$tps" -v failed="${failed:-0}" '
    { t[NR] = $1 } END { printf "%.0f %.2f %.2f %d\n", tps, t[int(NR * 0.5)], t[int(NR * 0.99)], failed }'
}

echo
echo "| operation | connections | service req/s | p50 ms | p99 ms | non-2xx | pgbench tx/s | p50 ms | p99 ms | service / pgbench |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
# Reads first: every payment recorded (by either side) adds a payment row and an audit event that
# the year report and the award history would then read.
for op in ${BENCH_OPS:-get_award year_report award_history payment}; do
  for c in ${BENCH_CONNS:-16 64}; do
    token=$AUDITOR
    [ "$op" = payment ] && token=$FINANCE
    read -r rps p50 p99 errors < <(run_wrk "$op" "$c" "$token")
    read -r tps bp50 bp99 failed < <(run_pgbench "$op" "$c")
    ratio=$(awk -v a="$rps" -v b="$tps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    echo "| $op | $c | $rps | $p50 | $p99 | $errors | $tps | $bp50 | $bp99 | ${ratio}x |"
  done
done
echo
echo "server peak memory (VmHWM): $(awk '/VmHWM/ { print $2, $3 }' "/proc/$SERVER/status")"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(psql -h 127.0.0.1 -U postgres -Atc 'SHOW server_version' | cut -d' ' -f1)"
