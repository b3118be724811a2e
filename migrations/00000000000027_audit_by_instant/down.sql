DROP INDEX audit_events_kind_idx;
DROP INDEX audit_events_at_idx;
