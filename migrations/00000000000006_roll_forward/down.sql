DROP INDEX awards_previous_idx;
DROP INDEX awards_one_successor_per_fund_key;
ALTER TABLE awards DROP COLUMN change_reason;
ALTER TABLE awards DROP COLUMN previous_award_id;
