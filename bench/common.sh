# Sourced by the bench scripts after they set DB (a throwaway database) and GRANTS_BIND: the
# service's settings for that database, PostgreSQL up, the release binaries built, and helpers
# to generate the ledger and start the server.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}?sslmode=disable"
export GRANTS_JWT_SECRET=bench-secret-bench-secret-bench-secret-00
export GRANTS_RATE_LIMIT_PER_SEC=${GRANTS_RATE_LIMIT_PER_SEC:-0}   # off unless a run asks for it
# A throwaway ledger publishes nothing: the placeholder publisher is fine here.
export GRANTS_360_PLACEHOLDERS=allow
export RUST_LOG=warn
pg_isready -q -h 127.0.0.1 || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
cargo build --release --locked --bin grants --example generate_ledger

# The checkpoint key of $DB, and the signer's record beside it: one pair per database, made new
# with it (a signer remembering another database's checkpoints rightly refuses to sign).
export GRANTS_AUDIT_KEY_FILE=$PWD/target/bench-audit-key-${DB}.pem

audit_key() { [ -e "$GRANTS_AUDIT_KEY_FILE" ] || target/release/grants audit keygen --out "$GRANTS_AUDIT_KEY_FILE" >/dev/null; }
audit_key

fresh_database() { # drops $DB, and makes its key new, without the signer's record
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)"
  rm -f "$GRANTS_AUDIT_KEY_FILE" "$GRANTS_AUDIT_KEY_FILE.signed"
  audit_key
}

generate() { # years awards-per-year: a fresh $DB filled through the service's own write paths
  fresh_database
  /usr/bin/time -f "generated in %es" target/release/examples/generate_ledger "$1" "$2"
}

start_server() { # sets SERVER; the server is stopped when the script exits
  target/release/grants serve & SERVER=$!
  trap 'kill $SERVER 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do curl -sf "http://$GRANTS_BIND/readyz" >/dev/null && break; sleep 0.1; done
}
