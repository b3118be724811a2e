-- The rate limiter's buckets, shared by every instance serving this database, so that a
-- subject's limit holds in total however many processes answer it (GRANTS_RATE_LIMIT_STORE).
-- An instance takes a few requests' worth at once (its lease); `granted` is what the last
-- taking got. Not ledger data: unlogged (no WAL, emptied after a crash, not on a replica), and the service
-- deletes buckets idle long enough to be full again.
CREATE UNLOGGED TABLE rate_buckets (
    key text PRIMARY KEY,
    tokens double precision NOT NULL,
    at timestamptz NOT NULL,
    granted integer NOT NULL
);
CREATE INDEX rate_buckets_at_idx ON rate_buckets (at);
