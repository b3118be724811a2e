-- Each event's data also as the exact canonical JSON text its hash covers, so that verification
-- reads bytes and hashes them as they are, instead of having PostgreSQL write every `jsonb` out
-- as text and the verifier put it back into canonical form (which was most of its time). The
-- `jsonb` stays what the service and reports read; the constraint keeps the two equal, and
-- verification checks that the constraint is there and validated (without it, it compares
-- every event's two forms itself). Events written before this migration have no text: they are
-- verified from their `jsonb`, as before.
ALTER TABLE audit_events ADD COLUMN data_text text;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_data_text CHECK (data_text IS NULL OR data_text::jsonb = data);
