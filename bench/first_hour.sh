#!/usr/bin/env bash
# Clone to a ready demo, timed as a newcomer would live it: a fresh clone of this checkout's
# HEAD, the README's set-up line, then the README's run command until the demo answers
# /readyz. Each step's seconds, and the total, are printed at the end.
#   bash bench/first_hour.sh            # from a clone with no build in it
#   TIMINGS=1 bash bench/first_hour.sh  # also cargo's build timings (cargo-timing.html, kept in target/)
#   TEST=1 bash bench/first_hour.sh     # then the README's test command, timed too
# The clone builds into a target folder of its own, so nothing already built is reused; what
# cargo has already downloaded (~/.cargo/registry) is, as it would be on a second clone. The demo
# gets a database and port of its own (.ci/scratch.sh), dropped at the end with the clone.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source .ci/scratch.sh
scratch_names first_hour
WORK=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; scratch_cleanup' EXIT
unset GRANTS_JWT_SECRET GRANTS_JWT_PUBLIC_KEY_FILE GRANTS_AUDIT_KEY_FILE GRANTS_APP_DATABASE_URL CARGO_TARGET_DIR
export RUST_LOG=info

started=$(date +%s.%N)
step() { # NAME: the seconds since the last step, and the total
  local now; now=$(date +%s.%N)
  printf 'first hour: %-28s %7.1f s  (total %7.1f s)\n' "$1" "$(echo "$now - ${last:-$started}" | bc)" "$(echo "$now - $started" | bc)" | tee -a "$WORK/steps"
  last=$now
}

git clone -q "$ROOT" "$WORK/grants"
cd "$WORK/grants"
step clone
bash scripts/setup.sh
step "set-up line"
timings=()
[ -n "${TIMINGS:-}" ] && timings=(--timings)
# The README's run command, as written there.
run_command=$(sed -n 's/^\(cargo run [^#]*serve --demo\).*/\1/p' README.md | head -n1)
[ -n "$run_command" ] || { echo "first hour: no run command in the README" >&2; exit 1; }
read -ra run_words <<<"$run_command"
"${run_words[@]:0:2}" "${timings[@]}" "${run_words[@]:2}" > "$WORK/serve.log" 2>&1 & SERVER=$!
# Ready: it answers /readyz and has printed its tokens.
until curl -sf "http://$GRANTS_BIND/readyz" >/dev/null && grep -q FINANCE_TOKEN= "$WORK/serve.log"; do
  kill -0 $SERVER 2>/dev/null || { tail -n 30 "$WORK/serve.log" >&2; exit 1; }
  sleep 0.5
done
step "run command: demo ready"
if [ -n "${TIMINGS:-}" ]; then
  mkdir -p "$ROOT/target/first-hour"
  cp target/cargo-timings/cargo-timing.html "$ROOT/target/first-hour/cargo-timing-run.html"
fi
if [ -n "${TEST:-}" ]; then
  kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=
  cargo nextest run > "$WORK/test.log" 2>&1 || { tail -n 30 "$WORK/test.log" >&2; exit 1; }
  step "test command"
  grep -E '^ *Summary' "$WORK/test.log" || true
fi
echo "first hour: on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%d)"
cat "$WORK/steps"
