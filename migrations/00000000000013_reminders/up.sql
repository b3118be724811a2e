-- Reminders (issue 15): one e-mail per return per stage (due soon, overdue), ever. The row is
-- written in the transaction that sends the e-mail, so a restart, or a second instance, never
-- sends it again. Never edited, never deleted.

CREATE TABLE reminders (
    id uuid PRIMARY KEY,
    award_id uuid NOT NULL REFERENCES awards (id),
    period text NOT NULL,
    stage text NOT NULL CHECK (stage IN ('due_soon', 'overdue')),
    sent_to text NOT NULL,
    subject text NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reminders_once_key UNIQUE (award_id, period, stage)
);

CREATE FUNCTION reminders_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'reminders are never edited or deleted' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER reminders_no_change BEFORE UPDATE OR DELETE ON reminders
    FOR EACH ROW EXECUTE FUNCTION reminders_refuse_change();
