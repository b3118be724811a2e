#!/usr/bin/env bash
# The backup and restore drill (the procedure is docs/OPERATIONS.md's).
#
#   bash bench/restore_drill.sh [years] [awards-per-year] [writers]      (defaults 10 1000 4)
#
# 1. Generates the ledger into a fresh database of this run's own (`grants_drill_<run>`)
#    through the service's own write paths and starts `grants serve` on a free port.
# 2. An auditor saves the newest signed checkpoint (POST /audit/checkpoints), as the procedure
#    says to keep one apart from the dumps.
# 3. `writers` clients record payments over HTTP without pause; each acknowledged payment's id
#    is logged the moment its 201 arrives.
# 4. Under that load, a snapshot is taken in a transaction held open (pg_export_snapshot): the
#    payments acknowledged before it are noted, every table's rows are counted in it, and
#    `pg_dump --format=custom --snapshot` dumps exactly it while the writes go on. Timed.
# 5. The writers stop. The dump is restored into a new database (`grants_restored_<run>`)
#    (`pg_restore --jobs=2 --no-owner`). Timed.
# 6. Checks, each failing the drill (exit 1): every table's row count equals the snapshot's;
#    every payment acknowledged before the snapshot is there; `grants serve` starts on the
#    restored database and answers; `grants audit verify --against` the saved checkpoint says
#    ok (links, hashes, signatures, the saved head, every row reconciled with its events).
#
# DRILL_PROFILE=debug uses debug binaries (CI runs the drill small that way); the default is
# release. The figures for the 10-year ledger are in BENCHMARKS.md.
set -euo pipefail
YEARS=${1:-10}
PER_YEAR=${2:-1000}
WRITERS=${3:-4}
PROFILE=${DRILL_PROFILE:-release}
cd "$(dirname "$0")/.."
# A database, serving role and port of this run's own, dropped at the end (.ci/scratch.sh).
source .ci/scratch.sh
scratch_names drill
scratch_database RESTORED restored
RESTORED_PORT=$(scratch_free_port)
export GRANTS_JWT_SECRET=drill-secret-drill-secret-drill-secret-0123
export GRANTS_RATE_LIMIT_PER_SEC=0
export GRANTS_360_PLACEHOLDERS=allow
export RUST_LOG=warn
pg_isready -q -h 127.0.0.1 || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
if [ "$PROFILE" = release ]; then FLAG=--release; else FLAG=; fi
cargo build $FLAG --locked --bin grants --example generate_ledger
BIN=target/$PROFILE
OUT=target/drill
rm -rf "$OUT" && mkdir -p "$OUT"
export GRANTS_AUDIT_KEY_FILE=$PWD/$OUT/audit-key.pem
"$BIN/grants" audit keygen --out "$GRANTS_AUDIT_KEY_FILE" >/dev/null
PSQL=(psql -h 127.0.0.1 -U postgres -qAt -v ON_ERROR_STOP=1)
fail() { echo "DRILL FAILED: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  scratch_cleanup
}
trap cleanup EXIT

echo "== generating ${YEARS} years x ${PER_YEAR} awards"
"${PSQL[@]}" -c "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" -c "DROP DATABASE IF EXISTS ${RESTORED} WITH (FORCE)"
"$BIN/examples/generate_ledger" "$YEARS" "$PER_YEAR"
"$BIN/grants" serve & PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://$GRANTS_BIND/readyz" >/dev/null && break; sleep 0.1; done
AUDITOR=$("$BIN/grants" token --sub drill-auditor --role auditor --ttl 2h)
FINANCE=$("$BIN/grants" token --sub drill-finance --role finance --ttl 2h)

echo "== the auditor saves a signed checkpoint"
curl -sf -X POST -H "Authorization: Bearer $AUDITOR" "http://$GRANTS_BIND/api/v1/audit/checkpoints" >"$OUT/saved-checkpoint.json"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print("checkpoint", c["number"], "at seq", c["seq"])' "$OUT/saved-checkpoint.json"

echo "== ${WRITERS} writers record payments"
"${PSQL[@]}" -d "$DB" -c "SELECT id FROM awards WHERE financial_year = '2020-21' AND status = 'approved' ORDER BY reference LIMIT 200" >"$OUT/awards"
writer() { # n: pays 0.01 into its awards in turn, logging each acknowledged payment
  local n=$1 i=0
  mapfile -t awards <"$OUT/awards"
  while [ ! -e "$OUT/stop" ]; do
    local award=${awards[$(( (i * WRITERS + n) % ${#awards[@]} ))]}
    local body
    body=$(curl -s -o - -w '\n%{http_code}' -X POST -H "Authorization: Bearer $FINANCE" -H 'Content-Type: application/json' \
      -d '{"amount": "0.01", "paid_on": "2020-07-01", "reference": "DRILL"}' "http://$GRANTS_BIND/api/v1/awards/$award/payments")
    if [ "${body##*$'\n'}" = 201 ] && [[ $body =~ \"id\":\"([0-9a-f-]{36})\" ]]; then
      echo "${BASH_REMATCH[1]}" >>"$OUT/acked.$n"
    else
      echo "writer $n: ${body##*$'\n'}" >>"$OUT/errors"
    fi
    i=$((i + 1))
  done
}
for n in $(seq 0 $((WRITERS - 1))); do : >"$OUT/acked.$n"; writer "$n" & PIDS+=($!); done
sleep 3

echo "== the dump, under that load"
TABLES=$("${PSQL[@]}" -d "$DB" -c "SELECT string_agg(format('SELECT %L AS t, count(*) AS n FROM %I', tablename, tablename), ' UNION ALL ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")
coproc SNAPSHOT { psql -h 127.0.0.1 -U postgres -d "$DB" -qAt -v ON_ERROR_STOP=1; }
# Acknowledged before the snapshot exists: committed before it, so in it.
cat "$OUT"/acked.* | sort >"$OUT/acked-before"
echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT pg_export_snapshot();" >&"${SNAPSHOT[1]}"
read -r -t 30 SNAP <&"${SNAPSHOT[0]}" || fail "no snapshot"
echo "SELECT t || ' ' || n FROM ($TABLES) c ORDER BY t; SELECT '--';" >&"${SNAPSHOT[1]}"
: >"$OUT/counts-snapshot"
while read -r -t 60 line <&"${SNAPSHOT[0]}"; do [ "$line" = -- ] && break; echo "$line" >>"$OUT/counts-snapshot"; done
STARTED=$(now)
pg_dump -h 127.0.0.1 -U postgres --format=custom --snapshot="$SNAP" --file="$OUT/grants.dump" "$DB"
DUMP_SECS=$(since "$STARTED")
echo "COMMIT;" >&"${SNAPSHOT[1]}"
echo '\q' >&"${SNAPSHOT[1]}"
ACKED_DURING=$(( $(cat "$OUT"/acked.* | wc -l) - $(wc -l <"$OUT/acked-before") ))
touch "$OUT/stop"
sleep 0.5
ACKED_TOTAL=$(cat "$OUT"/acked.* | wc -l)
[ -s "$OUT/acked-before" ] || fail "no payment was acknowledged before the dump"
[ -e "$OUT/errors" ] && fail "writers got errors: $(sort "$OUT/errors" | uniq -c | head -3)"
echo "dumped in ${DUMP_SECS} s: $(stat -c %s "$OUT/grants.dump") bytes; $(wc -l <"$OUT/acked-before") payments acknowledged before it, ${ACKED_DURING} while it ran, ${ACKED_TOTAL} in all"

echo "== the restore, into a new database"
"${PSQL[@]}" -c "CREATE DATABASE ${RESTORED}"
STARTED=$(now)
pg_restore -h 127.0.0.1 -U postgres --no-owner --jobs=2 -d "$RESTORED" "$OUT/grants.dump"
RESTORE_SECS=$(since "$STARTED")
echo "restored in ${RESTORE_SECS} s"

echo "== checks"
"${PSQL[@]}" -d "$RESTORED" -c "SELECT t || ' ' || n FROM ($TABLES) c ORDER BY t" >"$OUT/counts-restored"
diff "$OUT/counts-snapshot" "$OUT/counts-restored" || fail "the restored row counts differ from the snapshot's"
echo "row counts equal the snapshot's in all $(wc -l <"$OUT/counts-restored") tables ($(grep '^audit_events ' "$OUT/counts-restored"), $(grep '^payments ' "$OUT/counts-restored"))"
"${PSQL[@]}" -d "$RESTORED" -c "SELECT id FROM payments" | sort >"$OUT/restored-payments"
MISSING=$(comm -23 "$OUT/acked-before" "$OUT/restored-payments" | wc -l)
[ "$MISSING" = 0 ] || fail "$MISSING acknowledged payments are missing"
echo "all $(wc -l <"$OUT/acked-before") payments acknowledged before the dump are there"

RESTORED_URL="postgres://postgres@127.0.0.1:5432/${RESTORED}?sslmode=disable"
DATABASE_URL=$RESTORED_URL GRANTS_BIND=127.0.0.1:$RESTORED_PORT "$BIN/grants" serve & PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$RESTORED_PORT/readyz" >/dev/null && break; sleep 0.1; done
AWARD=$(head -n1 "$OUT/awards")
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $FINANCE" "http://127.0.0.1:$RESTORED_PORT/api/v1/awards/$AWARD")
[ "$STATUS" = 200 ] || fail "the service on the restored database answered $STATUS"
echo "the service serves the restored database"

STARTED=$(now)
DATABASE_URL=$RESTORED_URL "$BIN/grants" audit verify --against "$OUT/saved-checkpoint.json" >"$OUT/verify.json" 2>"$OUT/verify.log" ||
  fail "verification failed: $(cat "$OUT/verify.log")"
VERIFY_SECS=$(since "$STARTED")
cat "$OUT/verify.log"
python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert v["ok"] and v["against_checked"], v; print("verified against the saved checkpoint: ok, head", v["head_seq"])' "$OUT/verify.json"
echo "| ledger | dump (under load) | dump size | restore | verify --against |"
echo "| --- | --- | --- | --- | --- |"
echo "| ${YEARS} years x ${PER_YEAR} awards, $(grep '^audit_events ' "$OUT/counts-restored" | cut -d' ' -f2) events | ${DUMP_SECS} s | $(( $(stat -c %s "$OUT/grants.dump") / 1024 / 1024 )) MB | ${RESTORE_SECS} s | ${VERIFY_SECS} s |"
echo "DRILL PASSED"
