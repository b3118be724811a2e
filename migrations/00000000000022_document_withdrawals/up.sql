-- Withdrawn documents (issue 40): a document attached in error (the wrong file, someone's
-- personal data) is withdrawn, not deleted. The withdrawal is a row of its own, never edited
-- or deleted; the document and its bytes stay, readable by id and in the trail, and the lists
-- leave it out. Its bytes still count towards the award's quota: a withdrawal frees no room,
-- or uploading and withdrawing would pass the quota for good.

CREATE TABLE document_withdrawals (
    id uuid PRIMARY KEY,
    document_id uuid NOT NULL UNIQUE REFERENCES documents (id),
    award_id uuid NOT NULL REFERENCES awards (id),
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    withdrawn_by text NOT NULL,
    withdrawn_at timestamptz NOT NULL,
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX document_withdrawals_award_idx ON document_withdrawals (award_id);

CREATE FUNCTION document_withdrawals_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'withdrawals are never edited or deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = NEW.document_id AND d.award_id = NEW.award_id) THEN
        RAISE EXCEPTION 'a withdrawal names its document''s award' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER document_withdrawals_guard BEFORE INSERT OR UPDATE OR DELETE ON document_withdrawals
    FOR EACH ROW EXECUTE FUNCTION document_withdrawals_guard();
