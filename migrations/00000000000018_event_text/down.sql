ALTER TABLE audit_events DROP CONSTRAINT audit_events_data_text;
ALTER TABLE audit_events DROP COLUMN data_text;
