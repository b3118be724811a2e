#!/usr/bin/env bash
# Times each report and export on a large generated ledger (DESIGN §7, issue: reports stay fast).
#   bench/reports.sh [years] [awards-per-year]      (defaults 10 1000)
# Builds release binaries, generates the ledger into a fresh database `grants_bench_reports`,
# starts the service on 127.0.0.1:18090 and prints median and worst of 10 timed requests each.
set -euo pipefail
YEARS=${1:-10}
PER_YEAR=${2:-1000}
DB=grants_bench_reports
export GRANTS_BIND=127.0.0.1:18090
source "$(dirname "$0")/common.sh"

echo "generating ${YEARS} years x ${PER_YEAR} awards..."
generate "$YEARS" "$PER_YEAR"
psql -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT 'awards ' || count(*) FROM awards UNION ALL SELECT 'payments ' || count(*) FROM payments UNION ALL SELECT 'returns ' || count(*) FROM returns UNION ALL SELECT 'audit events ' || count(*) FROM audit_events"

start_server
TOKEN=$(target/release/grants token --sub bench --role auditor)
RECIPIENT=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://$GRANTS_BIND/api/v1/recipients?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
MONTH=2020-04   # the last year's awards are all decided on 1 April 2020

time_it() { # name path
  local times=()
  curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "http://$GRANTS_BIND$2"   # warm-up
  for _ in $(seq 1 10); do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "http://$GRANTS_BIND$2")")
  done
  local size
  size=$(curl -s -H "Authorization: Bearer $TOKEN" "http://$GRANTS_BIND$2" | wc -c)
  printf '%s\n' "${times[@]}" | sort -n | awk -v name="$1" -v size="$size" '{t[NR]=$1} END {printf "| %s | %.0f ms | %.0f ms | %d KB |\n", name, t[5]*1000, t[NR]*1000, size/1024}'
}

echo "| request | median | worst of 10 | response |"
echo "| --- | --- | --- | --- |"
time_it "GET /reports/years/2020-21" "/api/v1/reports/years/2020-21"
time_it "GET /reports/year-on-year?from=2019-20&to=2020-21" "/api/v1/reports/year-on-year?from=2019-20&to=2020-21"
time_it "GET /reports/years/2020-21/chart.svg" "/api/v1/reports/years/2020-21/chart.svg"
time_it "GET /reports/years/2020-21/pack.xlsx" "/api/v1/reports/years/2020-21/pack.xlsx"
time_it "GET /reports/years/2020-21/pack.html" "/api/v1/reports/years/2020-21/pack.html"
# The same, as the ledger stood an instant ago (every table rebuilt from the audit trail).
AS_OF=$(date -u +%Y-%m-%dT%H:%M:%SZ)
time_it "GET /reports/years/2020-21?as_of=(now)" "/api/v1/reports/years/2020-21?as_of=$AS_OF"
time_it "GET /reports/year-on-year?from=2019-20&to=2020-21&as_of=(now)" "/api/v1/reports/year-on-year?from=2019-20&to=2020-21&as_of=$AS_OF"
time_it "GET /reports/years/2020-21/pack.xlsx?as_of=(now)" "/api/v1/reports/years/2020-21/pack.xlsx?as_of=$AS_OF"
time_it "GET /reports/years/2020-21/pack.html?as_of=(now)" "/api/v1/reports/years/2020-21/pack.html?as_of=$AS_OF"
time_it "GET /exports/360giving?financial_year=2020-21" "/api/v1/exports/360giving?financial_year=2020-21"
time_it "GET /exports/awards.csv?financial_year=2020-21" "/api/v1/exports/awards.csv?financial_year=2020-21"
time_it "GET /transparency/grants?month=$MONTH (the month's 1,000 grants: one page)" "/api/v1/transparency/grants?month=$MONTH"
time_it "GET /transparency/grants.csv?month=$MONTH (the same 1,000, streamed)" "/api/v1/transparency/grants.csv?month=$MONTH"
time_it "GET /recipients/{id}/history" "/api/v1/recipients/$RECIPIENT/history"
time_it "GET /audit/verify" "/api/v1/audit/verify"
