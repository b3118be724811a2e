DROP TABLE reminders;
DROP FUNCTION reminders_refuse_change();
