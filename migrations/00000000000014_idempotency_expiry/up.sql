-- Idempotency keys expire (GRANTS_IDEMPOTENCY_TTL, 7 days by default) and the running service
-- purges them: this index finds the expired ones without reading the rest.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
