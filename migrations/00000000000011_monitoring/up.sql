-- Monitoring plans (issue 15): how often each award reports, how many days after a period's end
-- its return is due, and the outcome indicators it reports against besides its activities. An
-- award without a plan reports quarterly on its activities, as every award did before.

CREATE TABLE monitoring_plans (
    id uuid PRIMARY KEY,
    award_id uuid NOT NULL REFERENCES awards (id),
    frequency text NOT NULL CHECK (frequency IN ('quarterly', 'half_yearly', 'annual', 'end_of_grant')),
    days_allowed integer NOT NULL CHECK (days_allowed BETWEEN 0 AND 366),
    set_by text NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT monitoring_plans_award_key UNIQUE (award_id)
);

CREATE TABLE indicators (
    id uuid PRIMARY KEY,
    award_id uuid NOT NULL REFERENCES awards (id),
    title text NOT NULL,
    unit text NOT NULL,
    baseline numeric(14, 2) CHECK (baseline >= 0),
    target numeric(14, 2) CHECK (target >= 0),
    direction text NOT NULL CHECK (direction IN ('increase', 'decrease')),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX indicators_award_idx ON indicators (award_id);

-- Half-years, the year and the end-of-grant report besides quarters.
ALTER TABLE returns DROP CONSTRAINT returns_period_check;
ALTER TABLE returns ADD CONSTRAINT returns_period_check
    CHECK (period ~ '^[0-9]{4}-[0-9]{2}-(Q[1-4]|H[12]|FY|END)$');

-- The risks a return reports: [{description, rating, mitigation}]. Null on returns made before
-- risks were reported (their events have none).
ALTER TABLE returns ADD COLUMN risks jsonb CHECK (risks IS NULL OR jsonb_typeof(risks) = 'array');

-- Each outcome indicator's actual value in a return.
CREATE TABLE return_results (
    return_id uuid NOT NULL REFERENCES returns (id),
    position integer NOT NULL,
    indicator_id uuid NOT NULL REFERENCES indicators (id),
    actual numeric(14, 2) CHECK (actual >= 0),
    commentary text NOT NULL,
    PRIMARY KEY (return_id, indicator_id)
);
CREATE INDEX return_results_indicator_idx ON return_results (indicator_id);

CREATE TRIGGER return_results_no_edit BEFORE UPDATE OR DELETE ON return_results
    FOR EACH ROW EXECUTE FUNCTION return_lines_refuse_change();

-- A submitted return is never edited, its risks included: only its review columns may change,
-- once.
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
