#!/usr/bin/env bash
# `grants audit verify` on a real ledger of about a million audit events (issue 13's figure).
#
#   bash bench/verify.sh
#
# Generates (once; BENCH_REUSE=1 keeps it) 12 financial years of 9,400 awards each through the
# library's own write paths into the throwaway database `grants_verify_bench` (about 1.0 M
# events: awards, payments, activities, returns and reviews), signs a checkpoint over its head,
# then runs `grants audit verify` twice under /usr/bin/time and prints the wall time and peak
# memory of each. Every check runs: the chain, the checkpoints, reconciliation of every row.
set -euo pipefail
DB=grants_verify_bench
export GRANTS_BIND=127.0.0.1:18092
source "$(dirname "$0")/common.sh"
if [ "${BENCH_REUSE:-0}" != 1 ] || ! psql -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT 1 FROM audit_checkpoints LIMIT 1" >/dev/null 2>&1; then
  generate 12 9400
  psql -h 127.0.0.1 -U postgres -d "$DB" -qc "VACUUM ANALYZE"
  start_server
  AUDITOR=$(target/release/grants token --sub bench-auditor --role auditor --ttl 1h)
  curl -sf -X POST -H "Authorization: Bearer $AUDITOR" "http://$GRANTS_BIND/api/v1/audit/checkpoints" >/dev/null
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
fi
psql -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT (SELECT count(*) FROM audit_events) || ' events, ' || (SELECT count(*) FROM awards) || ' awards, ' || (SELECT count(*) FROM payments) || ' payments, ' || (SELECT count(*) FROM returns) || ' returns, ' || (SELECT count(*) FROM audit_checkpoints) || ' checkpoints'"
psql -h 127.0.0.1 -U postgres -qc "CHECKPOINT"
for run in 1 2; do
  /usr/bin/time -f "run $run: %e s wall, %M KB peak RSS" target/release/grants audit verify >target/verify-bench.json 2>target/verify-bench.err || { cat target/verify-bench.err; exit 1; }
  tail -2 target/verify-bench.err
done
