DROP TABLE idempotency_keys;
ALTER TABLE payments
    DROP CONSTRAINT payments_due_check,
    DROP COLUMN cancelled_at,
    DROP COLUMN cancelled_reason,
    DROP COLUMN paid_by;
DROP TABLE variations;
