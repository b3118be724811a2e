-- The public transparency feed reads a month of standing awards in (award date, reference)
-- order and pages by that key: this index serves both the month's range and the cursor.
CREATE INDEX awards_published_idx
    ON awards ((coalesce(awarded_on, (approved_at AT TIME ZONE 'UTC')::date)), reference)
    WHERE status IN ('approved', 'closed');
