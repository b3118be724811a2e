ALTER TABLE awards DROP COLUMN requested_on;
ALTER TABLE awards DROP COLUMN amount_requested;
