#!/usr/bin/env bash
# Times an import: a generated CSV of N awards (in the shape of awards.csv, with decision
# columns) over five years, 200 recipients and 20 programmes, half of them part paid, first as a
# dry run, then staged (finance) and confirmed (an approver), into a fresh database.
#   bench/import.sh [rows] [rounds]      (defaults 10000 3)
# Each round uses a fresh database `grants_bench_import` and prints the dry run's and the
# commit's time (curl's time_total: staging plus confirming); then the median of the rounds.
# Each round then imports the file a second time (into fund code BENCH2) and prints the
# server's resident memory after both, and its peak (VmRSS and VmHWM of /proc).
set -euo pipefail
ROWS=${1:-10000}
ROUNDS=${2:-3}
DB=grants_bench_import
export GRANTS_BIND=127.0.0.1:18092
source "$(dirname "$0")/common.sh"
CSV=$PWD/target/bench-import.csv
python3 - "$ROWS" > "$CSV" <<'PY'
import sys
rows = int(sys.argv[1])
print("reference,financial_year,status,recipient,recipient_org_identifier,programme,category,plan_theme,"
      "title,amount,paid,scheduled,start_date,end_date,decision_ref,awarded_on,fund_budget")
for n in range(rows):
    year = 2015 + n % 5
    fy = f"{year}/{(year + 1) % 100:02d}"
    amount = 1000 + (n % 97) * 100
    paid = amount // 2 if n % 2 else 0
    print(f",{fy},approved,Recipient {n % 200},,Programme {n % 20},commissioned_service,communities,"
          f"Award {n},{amount}.00,{paid}.00,0,{year}-04-01,{year + 1}-03-31,IMPORT-{year},{year}-04-01,100000000.00")
PY
echo "$(wc -l < "$CSV") lines, $(du -h "$CSV" | cut -f1)"
FINANCE=$(target/release/grants token --sub bench-finance --role finance)
APPROVER=$(target/release/grants token --sub bench-approver --role approver)
dry=(); commit=()
for round in $(seq 1 "$ROUNDS"); do
  fresh_database
  start_server
  run() { # query -> "status seconds"
    curl -s -o "$PWD/target/bench-import.json" -w '%{http_code} %{time_total}' -X POST \
      "http://$GRANTS_BIND/api/v1/imports?fund_code=${FUND:-BENCH}&$1" -H "Authorization: Bearer $FINANCE" \
      -H 'Content-Type: text/csv' --data-binary "@$CSV"
  }
  d=$(run "dry_run=true"); [ "${d%% *}" = 200 ] || { echo "dry run: $d"; head -c 2000 "$PWD/target/bench-import.json"; exit 1; }
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"], r["errors"][:5]' "$PWD/target/bench-import.json"
  s=$(run "dry_run=false"); [ "${s%% *}" = 202 ] || { echo "stage: $s"; head -c 2000 "$PWD/target/bench-import.json"; exit 1; }
  BATCH=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch"]["id"])' "$PWD/target/bench-import.json")
  c=$(curl -s -o "$PWD/target/bench-import.json" -w '%{http_code} %{time_total}' -X POST \
    "http://$GRANTS_BIND/api/v1/imports/$BATCH/confirm" -H "Authorization: Bearer $APPROVER")
  [ "${c%% *}" = 201 ] || { echo "confirm: $c"; head -c 2000 "$PWD/target/bench-import.json"; exit 1; }
  total=$(python3 -c "print(round(${s#* } + ${c#* }, 3))")
  echo "round $round: dry run ${d#* } s, stage ${s#* } s, confirm ${c#* } s, commit $total s"
  dry+=("${d#* }"); commit+=("$total")
  s=$(FUND=BENCH2 run "dry_run=false"); [ "${s%% *}" = 202 ] || { echo "second stage: $s"; exit 1; }
  BATCH=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch"]["id"])' "$PWD/target/bench-import.json")
  c=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$GRANTS_BIND/api/v1/imports/$BATCH/confirm" \
    -H "Authorization: Bearer $APPROVER")
  [ "$c" = 201 ] || { echo "second confirm: $c"; exit 1; }
  echo "round $round: after two imports the server holds $(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$SERVER/status), peak $(awk '/VmHWM/ {printf "%.0f MB", $2/1024}' /proc/$SERVER/status)"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
done
median() { printf '%s\n' "$@" | sort -n | awk '{t[NR]=$1} END {print t[int((NR+1)/2)]}'; }
echo "import of $ROWS rows ($ROUNDS rounds): dry run median $(median "${dry[@]}") s, commit median $(median "${commit[@]}") s"
psql -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT 'awards ' || count(*) FROM awards UNION ALL SELECT 'payments ' || count(*) FROM payments UNION ALL SELECT 'audit events ' || count(*) FROM audit_events"
