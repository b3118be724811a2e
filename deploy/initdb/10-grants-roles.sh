#!/bin/sh
# Run once by the postgres image when its volume is new: the roles of docker-compose.yml.
# The ledger's tables belong to grants_owner (no superuser: it migrates, in a one-shot job);
# the service serves as grants_app, which owns nothing and gets exactly its privileges from
# `grants migrate`. The demo has an owner and a serving role of its own, on its own database.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_pw="$GRANTS_OWNER_PASSWORD" -v app_pw="$GRANTS_APP_PASSWORD" \
  -v demo_pw="$GRANTS_DEMO_PASSWORD" -v demo_app_pw="$GRANTS_DEMO_APP_PASSWORD" <<'SQL'
CREATE ROLE grants_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'owner_pw';
CREATE ROLE grants_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOINHERIT PASSWORD :'app_pw';
CREATE DATABASE grants OWNER grants_owner;
CREATE ROLE grants_demo LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'demo_pw';
CREATE ROLE grants_demo_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOINHERIT PASSWORD :'demo_app_pw';
CREATE DATABASE grants_demo OWNER grants_demo;
SQL
