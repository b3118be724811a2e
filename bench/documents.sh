#!/usr/bin/env bash
# Evidence documents: uploads N files of 10 MiB (the limit) to one award of a fresh demo and
# downloads each back, timing both (curl's time_total), and reads the server's peak resident
# memory (VmHWM) before and after: a document is spooled to disk and stored and served in
# 256 KiB chunks, so the peak should not grow by anything like 10 MiB a file.
#   bench/documents.sh [files]      (default 5)
set -euo pipefail
FILES=${1:-5}
DB=grants_bench_documents
export GRANTS_BIND=127.0.0.1:18093
source "$(dirname "$0")/common.sh"
fresh_database
target/release/grants migrate >/dev/null
target/release/grants seed >/dev/null
start_server
FINANCE=$(target/release/grants token --sub bench-finance --role finance)
API="http://$GRANTS_BIND/api/v1"
AWARD=$(curl -sf -H "Authorization: Bearer $FINANCE" "$API/awards?financial_year=2020-21&status=approved&limit=1" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
peak() { awk '/VmHWM/ {print $2 " kB"}' "/proc/$SERVER/status"; }
echo "peak memory before: $(peak)"
WORK=$(mktemp -d); trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
up=(); down=()
for n in $(seq 1 "$FILES"); do
  python3 -c "import sys; sys.stdout.buffer.write(b'%PDF-1.4\n' + b'%010d' % $n + b'a' * (10 * 1024 * 1024 - 19))" > "$WORK/f.pdf"
  u=$(curl -s -o "$WORK/doc.json" -w '%{http_code} %{time_total}' -X POST "$API/awards/$AWARD/documents" \
    -H "Authorization: Bearer $FINANCE" -F "file=@$WORK/f.pdf")
  [ "${u%% *}" = 201 ] || { echo "upload: $u"; cat "$WORK/doc.json"; exit 1; }
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/doc.json")
  d=$(curl -s -o "$WORK/back.pdf" -w '%{http_code} %{time_total}' -H "Authorization: Bearer $FINANCE" "$API/documents/$id/content")
  [ "${d%% *}" = 200 ] && cmp -s "$WORK/f.pdf" "$WORK/back.pdf" || { echo "download: $d differs"; exit 1; }
  up+=("${u#* }"); down+=("${d#* }")
done
median() { printf '%s\n' "$@" | sort -n | awk '{t[NR]=$1} END {print t[int((NR+1)/2)]}'; }
echo "$FILES files of 10 MiB: upload median $(median "${up[@]}") s, download median $(median "${down[@]}") s"
echo "peak memory after: $(peak)"
