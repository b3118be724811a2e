CREATE OR REPLACE FUNCTION returns_guard_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.award_id <> OLD.award_id OR NEW.recipient_id <> OLD.recipient_id OR NEW.period <> OLD.period
        OR NEW.revision <> OLD.revision OR NEW.spend_to_date <> OLD.spend_to_date
        OR NEW.narrative <> OLD.narrative OR NEW.submitted_by <> OLD.submitted_by
        OR NEW.submitted_at <> OLD.submitted_at OR NEW.risks IS DISTINCT FROM OLD.risks
        OR OLD.status <> 'submitted' THEN
        RAISE EXCEPTION 'a submitted return is never edited' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
ALTER TABLE returns DROP COLUMN received_on;
