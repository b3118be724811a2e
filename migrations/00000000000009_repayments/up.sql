-- Money a recipient returns (issue 15): never edited, never deleted. An award's paid money is
-- its paid payments less its repayments, and a closed award commits only that: what it will
-- never pay goes back to the fund's headroom.

CREATE TABLE repayments (
    id uuid PRIMARY KEY,
    award_id uuid NOT NULL REFERENCES awards (id),
    amount numeric(14, 2) NOT NULL CHECK (amount > 0),
    received_on date NOT NULL,
    reference text NOT NULL CHECK (length(reference) BETWEEN 1 AND 100),
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    recorded_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX repayments_award_idx ON repayments (award_id);

CREATE FUNCTION repayments_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'repayments are never edited or deleted' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER repayments_no_change BEFORE UPDATE OR DELETE ON repayments
    FOR EACH ROW EXECUTE FUNCTION repayments_refuse_change();

-- What an award has paid, net of what was returned.
CREATE FUNCTION award_paid(award uuid) RETURNS numeric LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT sum(amount) FROM payments WHERE award_id = award AND status = 'paid'), 0)
         - coalesce((SELECT sum(amount) FROM repayments WHERE award_id = award), 0)
$$;

-- What an award commits of its fund: an approved award its amount, a closed one what it paid
-- (net of repayments), any other nothing.
CREATE FUNCTION award_committed(award uuid, status text, amount numeric) RETURNS numeric LANGUAGE sql STABLE AS $$
    SELECT CASE status WHEN 'approved' THEN amount WHEN 'closed' THEN award_paid(award) ELSE 0 END
$$;
