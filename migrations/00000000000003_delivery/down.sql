DROP TRIGGER return_lines_no_edit ON return_lines;
DROP FUNCTION return_lines_refuse_change();
DROP TRIGGER returns_no_edit ON returns;
DROP FUNCTION returns_guard_edit();
DROP TABLE return_lines;
DROP TABLE returns;
DROP TABLE activities;
