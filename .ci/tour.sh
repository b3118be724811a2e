#!/usr/bin/env bash
# The tour (docs/TOUR.md), run as a reader would: a fresh demo, every ```sh block of the page
# to the auditors' section pasted in order, and every `#=>` line compared with what the
# command above it printed. Fails naming each figure that differs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source .ci/scratch.sh
scratch_names tour
export GRANTS_RATE_LIMIT_PER_SEC=0 GRANTS_DATA_DIR=$ROOT/target/tour-data RUST_LOG=warn
unset GRANTS_JWT_SECRET GRANTS_JWT_PUBLIC_KEY_FILE GRANTS_AUDIT_KEY_FILE GRANTS_APP_DATABASE_URL
command -v jq >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q jq; }
rm -rf "$GRANTS_DATA_DIR"
cargo build --locked --bin grants
WORK=$(mktemp -d)
# From a folder of its own, so that no .env in the checkout changes the demo.
(cd "$WORK" && exec "$ROOT/target/debug/grants" serve --demo) > "$WORK/serve.log" 2>&1 & SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"; scratch_cleanup' EXIT
for _ in $(seq 1 100); do curl -sf "http://$GRANTS_BIND/readyz" >/dev/null && break; sleep 0.2; done

python3 - "$ROOT/docs/TOUR.md" "$PORT" > "$WORK/tour.sh" <<'PY'
import re, sys
tour, port = open(sys.argv[1]).read(), sys.argv[2]
blocks = re.findall(r"```sh\n(.*?)```", tour, re.S)
out = ['__expect() { if [ "$1" != "$2" ]; then printf "tour: %s\\n  expected: %s\\n  got:      %s\\n" "$3" "$2" "$1"; fail=1; fi; }',
       "fail=0"]
n = 0
for block in blocks:
    lines = block.replace("127.0.0.1:8080", "127.0.0.1:" + port).split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        want = []
        j = i + 1
        while j < len(lines) and lines[j].startswith("#=>"):
            want.append(lines[j][4:] if lines[j].startswith("#=> ") else lines[j][3:])
            j += 1
        if want and not line.startswith("#"):
            n += 1
            out.append("__got=$(\n" + line + "\n)")
            out.append("__want=$(cat <<'__TOUR_EOF'\n" + "\n".join(want) + "\n__TOUR_EOF\n)")
            label = line.strip()[:100].replace("'", "")
            out.append(f"__expect \"$__got\" \"$__want\" '{label}'")
        else:
            out.append(line)
        i = j if want else i + 1
out.append(f'echo "tour: {n} printed figures checked"; exit $fail')
print("\n".join(out))
PY

# The reader's shell: the demo's exported tokens, and `grants` as the README defines it.
cd "$WORK"
{
  grep -E '^ +export [A-Z]+_TOKEN=' serve.log | sed 's/^ *//'
  echo "grants() { \"$ROOT/target/debug/grants\" \"\$@\"; }"
  cat tour.sh
} > run.sh
TMPDIR=$WORK bash -eu run.sh
