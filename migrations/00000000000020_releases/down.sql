DROP TABLE releases;
DROP FUNCTION releases_guard();
