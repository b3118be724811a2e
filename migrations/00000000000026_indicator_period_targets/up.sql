-- An indicator's target for each period it is judged in ([{"period": "2020-21-Q1", "target": 15}]),
-- so that a quarter's figure is judged against the quarter's target, not the year's. Null on
-- indicators made before (their events lack it).
ALTER TABLE indicators ADD COLUMN period_targets jsonb CHECK (period_targets IS NULL OR jsonb_typeof(period_targets) = 'array');
