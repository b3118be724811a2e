#!/usr/bin/env bash
# Times approving a schedule: N drafts approved under one decision in one request
# (POST /decisions/{id}/awards), on a fresh database.
#   bench/schedule.sh [drafts] [rounds]      (defaults 75 10)
# Builds release binaries, starts the service on 127.0.0.1:18091 against `grants_bench_schedule`,
# and per round makes a fund, the drafts and a decision, then times the one approval request.
# Prints the median and worst round.
set -euo pipefail
DRAFTS=${1:-75}
ROUNDS=${2:-10}
DB=grants_bench_schedule
export GRANTS_BIND=127.0.0.1:18091
source "$(dirname "$0")/common.sh"
fresh_database
start_server
API=http://$GRANTS_BIND/api/v1
ADMIN=$(target/release/grants token --sub bench-admin --role admin)
FINANCE=$(target/release/grants token --sub bench-finance --role finance)
APPROVER=$(target/release/grants token --sub bench-approver --role approver)
post() { # token path body -> response body
  curl -sf -X POST "$API$2" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$3"
}
id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
PROG=$(post "$ADMIN" /programmes '{"name":"Bench","category":"csp_allocation","plan_theme":"communities"}' | id)
RCPT=$(post "$ADMIN" /recipients '{"name":"Bench CSP","kind":"community_safety_partnership"}' | id)
times=()
for round in $(seq 1 "$ROUNDS"); do
  year=$((2000 + round))
  fy="$year-$(printf '%02d' $(((year + 1) % 100)))"
  FUND=$(post "$FINANCE" /funds "{\"code\":\"BENCH\",\"name\":\"Bench $fy\",\"financial_year\":\"$fy\",\"budget\":\"99999999.00\"}" | id)
  ids=()
  for n in $(seq 1 "$DRAFTS"); do
    ids+=("\"$(post "$FINANCE" /awards "{\"fund_id\":\"$FUND\",\"programme_id\":\"$PROG\",\"recipient_id\":\"$RCPT\",\"title\":\"Line $n\",\"purpose\":\"p\",\"conditions\":\"c\",\"crime_reduction_rationale\":\"r\",\"amount\":\"$((1000 + n)).00\",\"start_date\":\"$year-04-01\",\"end_date\":\"$((year + 1))-03-31\"}" | id)\"")
  done
  DECISION=$(post "$APPROVER" /decisions "{\"reference\":\"BENCH-$fy\",\"title\":\"Schedule $fy\",\"decided_on\":\"$year-04-01\",\"decided_by\":\"PCC\"}" | id)
  body="{\"award_ids\":[$(IFS=,; echo "${ids[*]}")]}"
  result=$(curl -s -o "$PWD/target/bench-schedule.json" -w '%{http_code} %{time_total}' -X POST "$API/decisions/$DECISION/awards" \
    -H "Authorization: Bearer $APPROVER" -H 'Content-Type: application/json' -d "$body")
  [ "${result%% *}" = 200 ] || { echo "round $round: HTTP ${result%% *}"; cat "$PWD/target/bench-schedule.json"; exit 1; }
  times+=("${result#* }")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$DRAFTS" -v r="$ROUNDS" \
  '{t[NR]=$1} END {printf "approving a schedule of %d drafts (%d rounds): median %.0f ms, worst %.0f ms\n", n, r, t[int((NR+1)/2)]*1000, t[NR]*1000}'
