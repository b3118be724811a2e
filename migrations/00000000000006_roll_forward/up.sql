-- Rolling a year forward: each award may name the award of an earlier year it continues, and
-- why its amount differs from that one's.

ALTER TABLE awards ADD COLUMN previous_award_id uuid REFERENCES awards (id);
ALTER TABLE awards ADD COLUMN change_reason text CHECK (length(change_reason) BETWEEN 1 AND 4000);
-- One successor per award in each fund: rolling forward twice cannot duplicate a line.
CREATE UNIQUE INDEX awards_one_successor_per_fund_key ON awards (fund_id, previous_award_id)
    WHERE previous_award_id IS NOT NULL;
CREATE INDEX awards_previous_idx ON awards (previous_award_id);
