-- Unspent budget moved from one year's fund to a later year's under a decision (issue 15).
-- Never edited or deleted. A fund's budget rule counts it: committed + carried out - carried in
-- may never exceed the budget.

CREATE TABLE carry_forwards (
    id uuid PRIMARY KEY,
    from_fund_id uuid NOT NULL REFERENCES funds (id),
    to_fund_id uuid NOT NULL REFERENCES funds (id),
    amount numeric(14, 2) NOT NULL CHECK (amount > 0),
    decision_id uuid NOT NULL REFERENCES decisions (id),
    decision_ref text NOT NULL,
    recorded_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT carry_forwards_two_funds CHECK (from_fund_id <> to_fund_id)
);
CREATE INDEX carry_forwards_from_idx ON carry_forwards (from_fund_id);
CREATE INDEX carry_forwards_to_idx ON carry_forwards (to_fund_id);

CREATE FUNCTION carry_forwards_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'carry-forwards are never edited or deleted' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER carry_forwards_no_change BEFORE UPDATE OR DELETE ON carry_forwards
    FOR EACH ROW EXECUTE FUNCTION carry_forwards_refuse_change();
