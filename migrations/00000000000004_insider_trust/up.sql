-- Trust against insiders: the decision behind a budget change, guards the serving role cannot
-- lift, and the signed checkpoints that anchor the audit chain outside the database.

-- The decision that set the fund's current budget (required for every budget change).
ALTER TABLE funds ADD COLUMN budget_decision_ref text;

-- A paid or cancelled payment is never edited; no payment is ever deleted.
CREATE FUNCTION payments_guard_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'payments are never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status <> 'scheduled' OR NEW.id <> OLD.id OR NEW.award_id <> OLD.award_id
        OR NEW.created_by <> OLD.created_by OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'a % payment is never edited', OLD.status USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER payments_no_edit BEFORE UPDATE OR DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_guard_edit();

-- Nothing of the ledger is ever deleted, whatever role asks.
CREATE FUNCTION ledger_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER funds_no_delete BEFORE DELETE ON funds FOR EACH ROW EXECUTE FUNCTION ledger_refuse_delete();
CREATE TRIGGER recipients_no_delete BEFORE DELETE ON recipients FOR EACH ROW EXECUTE FUNCTION ledger_refuse_delete();
CREATE TRIGGER programmes_no_delete BEFORE DELETE ON programmes FOR EACH ROW EXECUTE FUNCTION ledger_refuse_delete();
CREATE TRIGGER awards_no_delete BEFORE DELETE ON awards FOR EACH ROW EXECUTE FUNCTION ledger_refuse_delete();
CREATE TRIGGER variations_no_delete BEFORE DELETE ON variations FOR EACH ROW EXECUTE FUNCTION ledger_refuse_delete();
CREATE TRIGGER activities_no_delete BEFORE DELETE ON activities FOR EACH ROW EXECUTE FUNCTION ledger_refuse_delete();
CREATE TRIGGER returns_no_delete BEFORE DELETE ON returns FOR EACH ROW EXECUTE FUNCTION ledger_refuse_delete();

-- The public keys that have signed checkpoints; a retired key stays so that its checkpoints
-- stay checkable.
CREATE TABLE audit_keys (
    key_id text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    algorithm text NOT NULL CHECK (algorithm = 'ed25519'),
    public_key text NOT NULL UNIQUE CHECK (public_key ~ '^[0-9a-f]{64}$'),
    added_at timestamptz NOT NULL DEFAULT now()
);

-- Signed statements "the chain's event `seq` has hash `head_hash`", one sequence of them.
CREATE TABLE audit_checkpoints (
    number bigint PRIMARY KEY CHECK (number > 0),
    seq bigint NOT NULL UNIQUE CHECK (seq > 0),
    head_hash text NOT NULL CHECK (head_hash ~ '^[0-9a-f]{64}$'),
    at timestamptz NOT NULL,
    key_id text NOT NULL REFERENCES audit_keys (key_id),
    signature text NOT NULL CHECK (signature ~ '^[0-9a-f]{128}$')
);

CREATE TRIGGER audit_keys_append_only BEFORE UPDATE OR DELETE ON audit_keys
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_keys_no_truncate BEFORE TRUNCATE ON audit_keys
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
