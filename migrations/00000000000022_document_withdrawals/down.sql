DROP TABLE document_withdrawals;
