-- Reading the ledger as it stood at an instant (the board's pack as of a date): the last
-- event at or before the instant, then each entity's latest event up to it, by kind.
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_kind_idx ON audit_events (entity_type, entity_id, seq);
