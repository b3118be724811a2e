ALTER TABLE indicators DROP COLUMN period_targets;
