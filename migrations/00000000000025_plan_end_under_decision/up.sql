-- A plan's end date changes under a dated decision (the 2017 Plan ran on to the May 2021
-- election): the row keeps the decision behind its current end, the trail every earlier end.
-- Nothing else of a plan ever changes.
ALTER TABLE plans ADD COLUMN ends_on_decision_id uuid REFERENCES decisions (id);

CREATE FUNCTION plans_guard_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.title <> OLD.title OR NEW.starts_on <> OLD.starts_on
        OR NEW.themes <> OLD.themes OR NEW.created_by <> OLD.created_by OR NEW.created_at <> OLD.created_at
        OR NEW.ends_on_decision_id IS NULL THEN
        RAISE EXCEPTION 'a plan changes only its end date, and only under a decision' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER plans_no_edit BEFORE UPDATE ON plans FOR EACH ROW EXECUTE FUNCTION plans_guard_edit();
