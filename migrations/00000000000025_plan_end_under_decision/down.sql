DROP TRIGGER plans_no_edit ON plans;
DROP FUNCTION plans_guard_edit();
ALTER TABLE plans DROP COLUMN ends_on_decision_id;
