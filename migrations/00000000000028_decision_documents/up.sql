-- A decision holds its notice: a document belongs to an award (and maybe one of its
-- returns) or to a decision, never both, never neither. The same file twice on one decision is
-- a retry, as on an award. A decision's document is withdrawn like an award's; its withdrawal
-- names no award.
ALTER TABLE documents ALTER COLUMN award_id DROP NOT NULL;
ALTER TABLE documents ADD COLUMN decision_id uuid REFERENCES decisions (id);
ALTER TABLE documents ADD CONSTRAINT documents_one_owner
    CHECK ((award_id IS NULL) <> (decision_id IS NULL) AND (return_id IS NULL OR award_id IS NOT NULL));
CREATE INDEX documents_decision_idx ON documents (decision_id) WHERE decision_id IS NOT NULL;
CREATE UNIQUE INDEX documents_decision_once_key ON documents (decision_id, sha256) WHERE decision_id IS NOT NULL;

ALTER TABLE document_withdrawals ALTER COLUMN award_id DROP NOT NULL;

CREATE OR REPLACE FUNCTION document_withdrawals_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'withdrawals are never edited or deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = NEW.document_id
                   AND d.award_id IS NOT DISTINCT FROM NEW.award_id) THEN
        RAISE EXCEPTION 'a withdrawal names its document''s award' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
