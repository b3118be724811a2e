-- Closing an award that has not paid its whole amount releases the rest back to its fund: a
-- movement of money, so it is recorded with the decision that releases it, which someone other
-- than the person closing the award recorded. Never edited or deleted; the database itself
-- refuses a release under a decision its releaser recorded, whatever the serving role writes.

CREATE TABLE releases (
    id uuid PRIMARY KEY,
    award_id uuid NOT NULL UNIQUE REFERENCES awards (id),
    amount numeric(14, 2) NOT NULL CHECK (amount > 0),
    decision_id uuid NOT NULL REFERENCES decisions (id),
    decision_ref text NOT NULL,
    released_by text NOT NULL,
    created_at timestamptz NOT NULL,
    version integer NOT NULL DEFAULT 1
);

CREATE FUNCTION releases_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'releases are never edited or deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT 1 FROM decisions d WHERE d.id = NEW.decision_id AND d.created_by = NEW.released_by) THEN
        RAISE EXCEPTION 'a release cannot rest on a decision its releaser recorded'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER releases_guard BEFORE INSERT OR UPDATE OR DELETE ON releases
    FOR EACH ROW EXECUTE FUNCTION releases_guard();
