-- Variations of approved awards, the rest of the payment record, and idempotency keys.

CREATE TABLE variations (
    id uuid PRIMARY KEY,
    award_id uuid NOT NULL REFERENCES awards (id),
    -- The award's new total amount if approved.
    amount numeric(14, 2) NOT NULL CHECK (amount > 0),
    -- The award's amount when the variation was proposed.
    previous_amount numeric(14, 2) NOT NULL CHECK (previous_amount > 0),
    reason text NOT NULL,
    status text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'rejected')),
    proposed_by text NOT NULL,
    decided_by text,
    decision_ref text,
    decision_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT variations_decided_check CHECK (status = 'proposed' OR (decided_by IS NOT NULL AND decided_at IS NOT NULL))
);
CREATE INDEX variations_award_idx ON variations (award_id, created_at);
-- One open proposal per award.
CREATE UNIQUE INDEX variations_one_proposed_key ON variations (award_id) WHERE status = 'proposed';

ALTER TABLE payments
    ADD COLUMN paid_by text,
    ADD COLUMN cancelled_reason text,
    ADD COLUMN cancelled_at timestamptz,
    ADD CONSTRAINT payments_due_check CHECK (status <> 'scheduled' OR due_on IS NOT NULL);

-- Responses to creating POSTs, replayed when a client repeats its Idempotency-Key.
CREATE TABLE idempotency_keys (
    subject text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    status_code integer NOT NULL,
    location text,
    etag text,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, key)
);
