-- Evidence documents (issue 15): files a recipient or finance attaches to an award or to one
-- of its returns. Kept in PostgreSQL, so one pg_dump holds the whole record: the file's bytes
-- in 256 KiB chunks (bytea), written and read a chunk at a time, never whole in memory. Never
-- edited, never deleted.

CREATE TABLE documents (
    id uuid PRIMARY KEY,
    award_id uuid NOT NULL REFERENCES awards (id),
    return_id uuid REFERENCES returns (id),
    filename text NOT NULL CHECK (length(filename) BETWEEN 1 AND 200),
    media_type text NOT NULL,
    size bigint NOT NULL CHECK (size BETWEEN 1 AND 10485760),
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    uploaded_by text NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX documents_award_idx ON documents (award_id);
CREATE INDEX documents_return_idx ON documents (return_id);

CREATE TABLE document_chunks (
    document_id uuid NOT NULL REFERENCES documents (id),
    n integer NOT NULL CHECK (n >= 0),
    data bytea NOT NULL,
    PRIMARY KEY (document_id, n)
);

CREATE FUNCTION documents_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'documents are never edited or deleted' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER documents_no_change BEFORE UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION documents_refuse_change();
CREATE TRIGGER document_chunks_no_change BEFORE UPDATE OR DELETE ON document_chunks
    FOR EACH ROW EXECUTE FUNCTION documents_refuse_change();

-- The same file twice on the same award or return is a retry, not new evidence.
CREATE UNIQUE INDEX documents_once_key ON documents (award_id, coalesce(return_id, award_id), sha256);
