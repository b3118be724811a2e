CREATE OR REPLACE FUNCTION returns_guard_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.award_id <> OLD.award_id OR NEW.recipient_id <> OLD.recipient_id OR NEW.period <> OLD.period
        OR NEW.revision <> OLD.revision OR NEW.spend_to_date <> OLD.spend_to_date
        OR NEW.narrative <> OLD.narrative OR NEW.submitted_by <> OLD.submitted_by
        OR NEW.submitted_at <> OLD.submitted_at OR OLD.status <> 'submitted' THEN
        RAISE EXCEPTION 'a submitted return is never edited' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
DROP TABLE return_results;
ALTER TABLE returns DROP COLUMN risks;
ALTER TABLE returns DROP CONSTRAINT returns_period_check;
ALTER TABLE returns ADD CONSTRAINT returns_period_check CHECK (period ~ '^[0-9]{4}-[0-9]{2}-Q[1-4]$');
DROP TABLE indicators;
DROP TABLE monitoring_plans;
