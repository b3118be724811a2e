#!/usr/bin/env bash
# docker-compose.yml as an operator's first `up` meets it (Docker has no engine here): valid
# YAML, valid against the Compose specification's JSON schema, and the start-up rules that make
# a first `up` work every time.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/lint-venv
if ! "$VENV/bin/check-jsonschema" --version >/dev/null 2>&1 || ! "$VENV/bin/yamllint" --version >/dev/null 2>&1; then
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
    rm -rf "$VENV" && python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q 'check-jsonschema==0.39.0' 'yamllint==1.38.0'
fi
"$VENV/bin/yamllint" --strict \
  -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable, truthy: {check-keys: false}}}' \
  docker-compose.yml
"$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml

# What the schema cannot say.
"$VENV/bin/python" - <<'PY'
import sys, yaml
c = yaml.safe_load(open("docker-compose.yml"))
s = c["services"]
problems = []
db_check = s["db"]["healthcheck"]["test"]
if "-h" not in db_check:
    problems.append("db: pg_isready without -h passes while the image's set-up server is up")
for name in ("db", "grants"):
    if s[name].get("restart") not in ("always", "unless-stopped", "on-failure"):
        problems.append(f"{name}: no restart policy")
    if "healthcheck" not in s[name]:
        problems.append(f"{name}: no health check")
deps = s["grants"].get("depends_on", {})
if deps.get("db", {}).get("condition") != "service_healthy":
    problems.append("grants: does not wait for a healthy db")
env = s["grants"]["environment"]
if "GRANTS_DB_START_SECS" not in env:
    problems.append("grants: no start-up retry window (GRANTS_DB_START_SECS)")
if "demo" not in s.get("demo", {}).get("profiles", []):
    problems.append("no demo profile")
# Nobody serves as the superuser or the owner; the owner migrates in a one-shot job.
if "DATABASE_URL" in env:
    problems.append("grants: holds an owner's DATABASE_URL (serve with GRANTS_APP_DATABASE_URL only)")
if "grants_app:" not in env.get("GRANTS_APP_DATABASE_URL", ""):
    problems.append("grants: does not serve as the serving role grants_app")
if deps.get("migrate", {}).get("condition") != "service_completed_successfully":
    problems.append("grants: does not wait for the migrate job")
migrate = s.get("migrate", {})
if migrate.get("command") != ["migrate"] or "grants_owner:" not in migrate.get("environment", {}).get("DATABASE_URL", ""):
    problems.append("migrate: not `grants migrate` as grants_owner")
for name, service in s.items():
    url = str(service.get("environment", {}).get("DATABASE_URL", ""))
    if url.startswith("postgres://postgres:"):
        problems.append(f"{name}: connects as the superuser")
# The signing key: in a volume only the key job and the service mount; the demo has its own.
with_key = sorted(n for n, svc in s.items() if any(str(v).startswith("grants-key:") for v in svc.get("volumes", [])))
if with_key != ["audit-key", "grants"]:
    problems.append(f"grants-key is mounted by {with_key}, not only by audit-key and grants")
if any(str(v).startswith("grants-key:") or str(v).startswith("grants-db:") for v in s.get("demo", {}).get("volumes", [])):
    problems.append("demo: shares the service's volume")
if not any("docker-entrypoint-initdb.d" in str(v) for v in s["db"].get("volumes", [])):
    problems.append("db: no init script creating the owner and serving roles")
ignored = open(".dockerignore").read().split()
if "target/" not in ignored:
    problems.append(".dockerignore: target/ goes into the build context")
for p in problems:
    print("docker-compose.yml:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
echo "docker-compose.yml: ok"
