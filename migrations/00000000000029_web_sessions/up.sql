-- The screens' sessions, held by the server so they can be ended: the cookie holds
-- a random token, the table only its SHA-256. A session is the person's word for 30 minutes
-- after their last request and 8 hours at most; signing out ends it. Not ledger: no event.
CREATE TABLE web_sessions (
    id_hash text PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    subject text NOT NULL,
    name text,
    roles text[] NOT NULL,
    recipient_id uuid,
    csrf text NOT NULL CHECK (length(csrf) >= 32),
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    ended_at timestamptz
);
