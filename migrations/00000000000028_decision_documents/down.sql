CREATE OR REPLACE FUNCTION document_withdrawals_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
ALTER TABLE document_withdrawals ALTER COLUMN award_id SET NOT NULL;
DROP INDEX documents_decision_once_key;
DROP INDEX documents_decision_idx;
ALTER TABLE documents DROP CONSTRAINT documents_one_owner;
ALTER TABLE documents DROP COLUMN decision_id;
ALTER TABLE documents ALTER COLUMN award_id SET NOT NULL;
