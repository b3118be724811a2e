#!/usr/bin/env bash
# The public transparency feed at scale: a month of many grants read by many
# anonymous readers at once, with the server's memory watched and staff requests beside them.
#
#   bash bench/feed.sh [grants-in-the-month] [readers]        (defaults 100000 25)
#
# Builds release binaries, generates a small ledger through the service's write paths into a
# fresh database `grants_bench_feed`, then copies one approved award into June 2020 as many times
# as asked (straight into the table: the feed reads rows, and making 100,000 through the API only
# takes longer; the throwaway chain no longer reconciles). Starts `grants serve` on
# 127.0.0.1:18092 with its default settings, reads one page to warm it, then runs
# bench/feed_readers.py: half the readers walk the JSON pages by next_cursor, half fetch the
# whole CSV, while a staff token reads awards and the year report. Prints the rows each reader
# got, the time, the staff requests' statuses, and the server's resident memory before, at its
# highest during the run (sampled every 0.1 s), and its growth. Results are in BENCHMARKS.md.
set -euo pipefail
GRANTS=${1:-100000}
READERS=${2:-25}
DB=grants_bench_feed
export GRANTS_BIND=127.0.0.1:18092
source "$(dirname "$0")/common.sh"
PSQL=(psql -h 127.0.0.1 -U postgres -d "$DB" -qAt)

generate 1 100
"${PSQL[@]}" -c "
  INSERT INTO awards
  SELECT (jsonb_populate_record(NULL::awards, to_jsonb(a) || jsonb_build_object(
      'id', gen_random_uuid(), 'reference', 'FEED-' || lpad(n::text, 7, '0'),
      'awarded_on', make_date(2020, 6, 1 + n % 30)))).*
  FROM (SELECT * FROM awards WHERE status = 'approved' ORDER BY reference LIMIT 1) a,
       generate_series(1, $GRANTS) n;
  ANALYZE awards;"
echo "grants in June 2020: $("${PSQL[@]}" -c "SELECT count(*) FROM awards WHERE status IN ('approved', 'closed')
  AND coalesce(awarded_on, (approved_at AT TIME ZONE 'UTC')::date) BETWEEN '2020-06-01' AND '2020-06-30'")"

start_server
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }
curl -sf "http://$GRANTS_BIND/api/v1/transparency/grants?month=2020-06" | wc -c | awk '{printf "one page (1,000 grants): %d KB\n", $1/1024}'
curl -sf "http://$GRANTS_BIND/api/v1/transparency/grants.csv?month=2020-06" -o /dev/null -w 'the whole month as CSV: %{size_download} bytes in %{time_total} s\n'
BEFORE=$(rss)
PEAK_FILE=$(mktemp)
( peak=0; while kill -0 "$SERVER" 2>/dev/null; do
    now=$(rss); [ "$now" -gt "$peak" ] && { peak=$now; echo "$peak" > "$PEAK_FILE"; }; sleep 0.1
  done ) & SAMPLER=$!
TOKEN=$(target/release/grants token --sub bench --role finance)
python3 bench/feed_readers.py "http://$GRANTS_BIND" 2020-06 "$READERS" "$TOKEN"
sleep 0.3
kill "$SAMPLER" 2>/dev/null || true
PEAK=$(cat "$PEAK_FILE")
echo "server RSS: before ${BEFORE} kB, highest during ${PEAK} kB, growth $(( (PEAK - BEFORE) / 1024 )) MB; VmHWM $(awk '/^VmHWM/ {print $2}' "/proc/$SERVER/status") kB"
