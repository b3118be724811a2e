#!/usr/bin/env bash
# The contract as client developers meet it: spectral's `spectral:oas` ruleset finds
# no error in openapi/openapi.json; openapi-python-client generates a client that, with
# clients/python/program.py, passes `mypy --strict`; openapi-typescript generates types that,
# with clients/typescript/program.ts and openapi-fetch, compile under `tsc --strict`; and both
# programs then list funds, create a draft and read the 360Giving package from a demo service.
# The board pack is read as finance reads it (openpyxl) and rendered as the board prints it
# (Chromium, to PNG; clients/pack/check_pack.py).
# Tools come from PyPI and npm at pinned versions (clients/typescript/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/clients
VENV=$OUT/venv
mkdir -p "$OUT"

echo "== spectral (spectral:oas)"
(cd clients/typescript && npm ci --silent --no-audit --no-fund)
clients/typescript/node_modules/.bin/spectral lint openapi/openapi.json --ruleset clients/spectral.yaml \
  --fail-severity error --display-only-failures

echo "== Python client (openapi-python-client, mypy --strict)"
if ! "$VENV/bin/mypy" --version >/dev/null 2>&1; then
  rm -rf "$VENV" && python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'openapi-python-client==0.29.1' 'mypy==2.4.1'
fi
rm -rf "$OUT/python" && mkdir -p "$OUT/python"
"$VENV/bin/openapi-python-client" generate --path openapi/openapi.json --meta none --config clients/python/config.yaml \
  --output-path "$OUT/python/grants_api_client" >"$OUT/python-generate.log" 2>&1 \
  || { cat "$OUT/python-generate.log"; exit 1; }
cp clients/python/program.py "$OUT/python/"
(cd "$OUT/python" && "../venv/bin/mypy" --strict --no-incremental program.py grants_api_client)

echo "== TypeScript types (openapi-typescript, openapi-fetch, tsc --strict)"
(cd clients/typescript && rm -rf generated dist \
  && node_modules/.bin/openapi-typescript ../../openapi/openapi.json -o generated/schema.d.ts \
  && node_modules/.bin/tsc -p .)

echo "== both programs against a demo service"
source .ci/scratch.sh
scratch_names clients
export GRANTS_JWT_SECRET=clients-check-secret-clients-check-secret-0
export GRANTS_DATA_DIR=$OUT/data
export RUST_LOG=warn
cargo build --locked --bin grants
target/debug/grants serve --demo >"$OUT/server.log" 2>&1 & SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; scratch_cleanup' EXIT
for _ in $(seq 1 150); do curl -sf "http://$GRANTS_BIND/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://$GRANTS_BIND/readyz" >/dev/null || { cat "$OUT/server.log"; exit 1; }
export GRANTS_URL="http://$GRANTS_BIND"
export GRANTS_TOKEN
GRANTS_TOKEN=$(target/debug/grants token --sub clients-finance --role finance --ttl 1h)
(cd "$OUT/python" && "../venv/bin/python" program.py)
node clients/typescript/dist/program.js

echo "== the board pack as finance and the board meet it (openpyxl; Chromium renders it to PNG)"
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
"$VENV/bin/python" -c "import openpyxl, PIL" 2>/dev/null || "$VENV/bin/pip" install -q 'openpyxl==3.1.5' 'pillow==13.0.0'
"$VENV/bin/python" clients/pack/check_pack.py "$GRANTS_URL" "$GRANTS_TOKEN" "$OUT/pack" "$(command -v chromium)"
