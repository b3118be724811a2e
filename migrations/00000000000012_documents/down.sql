DROP TABLE document_chunks;
DROP TABLE documents;
DROP FUNCTION documents_refuse_change();
