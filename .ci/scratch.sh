# Sourced by the scripts that start a service of their own (CI's and the restore drill): a
# database, a serving role and a port named for this run, so that two checkouts testing against
# one PostgreSQL never meet, and what the run made dropped when it ends.
#   scratch_names NAME       sets and exports DB, DATABASE_URL, GRANTS_APP_ROLE, PORT, GRANTS_BIND
#   scratch_database VAR NAME  another database of this run, its name in VAR, dropped with the rest
#   scratch_cleanup          drops this run's databases and role (call it from the EXIT trap)
SCRATCH_DATABASES=()
scratch_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
scratch_database() { # VARIABLE NAME: sets VARIABLE (not in a subshell, so the name is kept for cleanup)
  local name="grants_${2}_${SCRATCH_RUN}"
  SCRATCH_DATABASES+=("$name")
  printf -v "$1" '%s' "$name"
}
scratch_names() {
  SCRATCH_RUN="${SCRATCH_RUN:-$$_$(date +%s)}"
  DB="grants_${1}_${SCRATCH_RUN}"
  SCRATCH_DATABASES+=("$DB")
  GRANTS_APP_ROLE="grants_app_${1}_${SCRATCH_RUN}"
  PORT=$(scratch_free_port)
  export DB GRANTS_APP_ROLE PORT
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}?sslmode=disable"
  export GRANTS_BIND="127.0.0.1:${PORT}"
}
scratch_cleanup() {
  local statements=()
  for db in "${SCRATCH_DATABASES[@]}"; do statements+=(-c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)"); done
  statements+=(-c "DROP ROLE IF EXISTS ${GRANTS_APP_ROLE}")
  # From /: psql will not start in a directory that is gone (a script's work folder, removed).
  (cd / && psql -h 127.0.0.1 -U postgres -q "${statements[@]}" >/dev/null 2>&1) || true
}
