-- Decisions are records: the PCC's dated decision behind every approval, variation and budget
-- change. A decision is never edited or deleted; a correction is a new decision.

CREATE TABLE decisions (
    id uuid PRIMARY KEY,
    reference text NOT NULL UNIQUE CHECK (length(reference) BETWEEN 1 AND 100),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    -- The date the decision was made: the award date of every award approved under it.
    decided_on date NOT NULL CHECK (decided_on >= DATE '1990-01-01'),
    -- Who made it, e.g. "Police and Crime Commissioner".
    decided_by text NOT NULL CHECK (length(decided_by) BETWEEN 1 AND 200),
    url text CHECK (url ~ '^https?://[^[:space:]]+$' AND length(url) <= 2000),
    summary text NOT NULL DEFAULT '' CHECK (length(summary) <= 4000),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decisions_decided_on_idx ON decisions (decided_on);

CREATE FUNCTION decisions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'decisions are never edited or deleted' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER decisions_no_change BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION decisions_refuse_change();

-- The decision that approved an award, and its date (the award date the exports publish).
-- Awards approved before decisions were records keep both null; the exports then use the day
-- of approval.
ALTER TABLE awards ADD COLUMN decision_id uuid REFERENCES decisions (id);
ALTER TABLE awards ADD COLUMN awarded_on date;
CREATE INDEX awards_decision_idx ON awards (decision_id);
CREATE INDEX awards_awarded_on_idx ON awards (awarded_on);

ALTER TABLE variations ADD COLUMN decision_id uuid REFERENCES decisions (id);
CREATE INDEX variations_decision_idx ON variations (decision_id);

ALTER TABLE funds ADD COLUMN budget_decision_id uuid REFERENCES decisions (id);
