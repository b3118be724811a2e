#!/usr/bin/env python3
"""Readers of the public transparency feed, for bench/feed.sh (standard library only).

    feed_readers.py BASE MONTH READERS TOKEN

Starts READERS anonymous readers at once: half walk the month's JSON pages by next_cursor, the
others fetch the month's CSV whole. Meanwhile one staff reader (TOKEN) asks for a page of
awards and the year report, again and again, until the readers finish. Prints one JSON line:
rows each reader got, the wall time, and the staff requests' statuses and latencies.
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

BASE, MONTH, READERS, TOKEN = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
FEED = f"{BASE}/api/v1/transparency/grants"


def fetch(url, token=None):
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def walk_pages(results, n):
    rows, cursor, pages = 0, None, 0
    while True:
        query = {"month": MONTH}
        if cursor:
            query["cursor"] = cursor
        status, body = fetch(f"{FEED}?{urllib.parse.urlencode(query)}")
        if status != 200:
            results[n] = f"status {status}"
            return
        page = json.loads(body)
        rows += len(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            results[n] = rows
            return


def whole_csv(results, n):
    status, body = fetch(f"{FEED}.csv?month={MONTH}")
    if status != 200:
        results[n] = f"status {status}"
        return
    # Header and rows; the bench's texts hold no line breaks.
    results[n] = body.count(b"\n") - 1


def staff(done, seen):
    while not done.is_set():
        for path in ("/api/v1/awards?limit=10", "/api/v1/reports/years/2020-21"):
            started = time.monotonic()
            status, _ = fetch(f"{BASE}{path}", TOKEN)
            seen.append((status, time.monotonic() - started))


results = [None] * READERS
readers = [
    threading.Thread(target=walk_pages if n % 2 else whole_csv, args=(results, n)) for n in range(READERS)
]
done, seen = threading.Event(), []
watcher = threading.Thread(target=staff, args=(done, seen))
started = time.monotonic()
watcher.start()
for t in readers:
    t.start()
for t in readers:
    t.join()
elapsed = time.monotonic() - started
done.set()
watcher.join()
latencies = sorted(s for _, s in seen)
statuses = {}
for status, _ in seen:
    statuses[str(status)] = statuses.get(str(status), 0) + 1
print(json.dumps({
    "rows": results,
    "seconds": round(elapsed, 1),
    "staff_statuses": statuses,
    "staff_p50_ms": round(1000 * latencies[len(latencies) // 2]) if latencies else None,
    "staff_max_ms": round(1000 * latencies[-1]) if latencies else None,
}))
