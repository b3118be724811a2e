#!/usr/bin/env bash
# `grants audit verify` on a chain of a million audit events over a real ledger.
#
#   bash bench/verify.sh
#
# Generates (once; BENCH_REUSE=1 keeps it) seven financial years of 9,400 awards each through
# the library's own write paths into the throwaway database `grants_verify_bench` (583,018
# events: awards, approvals, payments, activities, returns and reviews, and 65,800 awards with
# their payments, activities and returns to reconcile), tops the chain up to exactly 1,000,000
# events with `generate_chain` (events of kind `synthetic`, shaped like award approvals, which
# reconciliation leaves be), signs a checkpoint over the head, then runs `grants audit verify`
# twice under /usr/bin/time and prints the wall time and peak memory of each. Every check runs:
# the chain, the checkpoint, reconciliation of every ledger row. (A full million through the
# write paths takes over an hour here: the generator slows as the year's transaction grows.)
set -euo pipefail
DB=grants_verify_bench
export GRANTS_BIND=127.0.0.1:18092
source "$(dirname "$0")/common.sh"
cargo build --release --locked --example generate_chain
if [ "${BENCH_REUSE:-0}" != 1 ] || ! psql -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT 1 FROM audit_checkpoints LIMIT 1" >/dev/null 2>&1; then
  generate 7 9400
  have=$(psql -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT count(*) FROM audit_events")
  target/release/examples/generate_chain $((1000000 - have))
  psql -h 127.0.0.1 -U postgres -d "$DB" -qc "VACUUM ANALYZE"
  start_server
  AUDITOR=$(target/release/grants token --sub bench-auditor --role auditor --ttl 1h)
  curl -sf -X POST -H "Authorization: Bearer $AUDITOR" "http://$GRANTS_BIND/api/v1/audit/checkpoints" >/dev/null
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
fi
psql -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT (SELECT count(*) FROM audit_events) || ' events (' || (SELECT count(*) FROM audit_events WHERE entity_type = 'synthetic') || ' synthetic), ' || (SELECT count(*) FROM awards) || ' awards, ' || (SELECT count(*) FROM payments) || ' payments, ' || (SELECT count(*) FROM returns) || ' returns, ' || (SELECT count(*) FROM audit_checkpoints) || ' checkpoints'"
psql -h 127.0.0.1 -U postgres -qc "CHECKPOINT"
for run in 1 2; do
  /usr/bin/time -f "run $run: %e s wall, %M KB peak RSS" target/release/grants audit verify >target/verify-bench.json 2>target/verify-bench.err || { cat target/verify-bench.err; exit 1; }
  tail -2 target/verify-bench.err
done
