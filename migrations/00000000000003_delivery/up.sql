-- Delivery activities agreed for awards, and the CSPs' quarterly returns against them.

CREATE TABLE activities (
    id uuid PRIMARY KEY,
    award_id uuid NOT NULL REFERENCES awards (id),
    title text NOT NULL,
    description text NOT NULL,
    measure text NOT NULL,
    target numeric(14, 2) CHECK (target >= 0),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX activities_award_idx ON activities (award_id);

CREATE TABLE returns (
    id uuid PRIMARY KEY,
    award_id uuid NOT NULL REFERENCES awards (id),
    recipient_id uuid NOT NULL REFERENCES recipients (id),
    period text NOT NULL CHECK (period ~ '^[0-9]{4}-[0-9]{2}-Q[1-4]$'),
    revision integer NOT NULL CHECK (revision > 0),
    status text NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted', 'accepted', 'returned')),
    spend_to_date numeric(14, 2) NOT NULL CHECK (spend_to_date >= 0),
    narrative text NOT NULL,
    submitted_by text NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    reviewed_by text,
    reviewed_at timestamptz,
    review_comment text,
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT returns_revision_key UNIQUE (award_id, period, revision),
    CONSTRAINT returns_reviewed_check CHECK (status = 'submitted' OR (reviewed_by IS NOT NULL AND reviewed_at IS NOT NULL))
);
-- One live (submitted or accepted) return per award and period.
CREATE UNIQUE INDEX returns_live_period_key ON returns (award_id, period) WHERE status IN ('submitted', 'accepted');
CREATE INDEX returns_recipient_idx ON returns (recipient_id);

CREATE TABLE return_lines (
    return_id uuid NOT NULL REFERENCES returns (id),
    position integer NOT NULL,
    activity_id uuid NOT NULL REFERENCES activities (id),
    status text NOT NULL CHECK (status IN ('not_started', 'on_track', 'at_risk', 'off_track', 'complete')),
    output_value numeric(14, 2) CHECK (output_value >= 0),
    commentary text NOT NULL,
    PRIMARY KEY (return_id, activity_id)
);

-- A submitted return is never edited: only its review columns may change, once.
CREATE FUNCTION returns_guard_edit() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER returns_no_edit BEFORE UPDATE ON returns FOR EACH ROW EXECUTE FUNCTION returns_guard_edit();

CREATE FUNCTION return_lines_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'return lines are never edited' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER return_lines_no_edit BEFORE UPDATE OR DELETE ON return_lines
    FOR EACH ROW EXECUTE FUNCTION return_lines_refuse_change();
