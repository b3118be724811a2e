DROP TABLE import_batches;
DROP FUNCTION import_batches_guard();
