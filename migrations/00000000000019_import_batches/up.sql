-- Imports are staged, then confirmed by a second person. Finance sends a file; it is planned
-- and kept here, as sent, with nothing else written. An approver who did not stage it confirms
-- it: only then are its records written, in the confirmation's transaction. A batch is never
-- deleted, its file never changed; the database itself refuses a confirmation by the person who
-- staged it, whatever the serving role asks.

CREATE TABLE import_batches (
    id uuid PRIMARY KEY,
    media_type text NOT NULL,
    fund_code text,
    body bytea NOT NULL,
    sha256 text NOT NULL,
    rows integer NOT NULL CHECK (rows > 0),
    status text NOT NULL CHECK (status IN ('staged', 'confirmed')),
    staged_by text NOT NULL,
    staged_at timestamptz NOT NULL,
    confirmed_by text,
    confirmed_at timestamptz,
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT import_batches_confirmed CHECK ((status = 'confirmed') = (confirmed_by IS NOT NULL AND confirmed_at IS NOT NULL)),
    CONSTRAINT import_batches_four_eyes CHECK (confirmed_by IS NULL OR confirmed_by <> staged_by)
);

CREATE FUNCTION import_batches_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'import batches are never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status <> 'staged' OR NEW.id <> OLD.id OR NEW.body <> OLD.body OR NEW.sha256 <> OLD.sha256
       OR NEW.media_type <> OLD.media_type OR NEW.fund_code IS DISTINCT FROM OLD.fund_code
       OR NEW.rows <> OLD.rows OR NEW.staged_by <> OLD.staged_by OR NEW.staged_at <> OLD.staged_at THEN
        RAISE EXCEPTION 'an import batch is confirmed once, and its file never changes'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER import_batches_guard BEFORE UPDATE OR DELETE ON import_batches
    FOR EACH ROW EXECUTE FUNCTION import_batches_guard();
