-- Plans and their themes as data: a Police and Crime Plan follows each PCC election, and each
-- names its own themes. A programme's theme belongs to a plan; an award keeps the theme it was
-- approved under.

CREATE TABLE plans (
    id uuid PRIMARY KEY,
    title text NOT NULL UNIQUE CHECK (length(title) BETWEEN 1 AND 200),
    starts_on date NOT NULL,
    ends_on date NOT NULL,
    -- [{"code": "victims", "title": "Victims"}, …]: one to twenty, codes unique.
    themes jsonb NOT NULL CHECK (jsonb_typeof(themes) = 'array' AND jsonb_array_length(themes) BETWEEN 1 AND 20),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT plans_dates_check CHECK (ends_on >= starts_on)
);
CREATE TRIGGER plans_no_delete BEFORE DELETE ON plans FOR EACH ROW EXECUTE FUNCTION ledger_refuse_delete();

-- A theme is a plan's code, no longer one of four fixed names.
ALTER TABLE programmes DROP CONSTRAINT programmes_plan_theme_check;
ALTER TABLE programmes ADD CONSTRAINT programmes_plan_theme_code_check CHECK (plan_theme ~ '^[a-z][a-z0-9_]{0,39}$');

-- The plan a programme's theme belongs to; null for programmes made before plans were records
-- (their themes are those of the Police and Crime Plan 2017-20).
ALTER TABLE programmes ADD COLUMN plan_id uuid REFERENCES plans (id);

-- The plan and theme an award was approved under; null for awards approved before this change
-- (reports then read the programme's theme).
ALTER TABLE awards ADD COLUMN plan_id uuid REFERENCES plans (id);
ALTER TABLE awards ADD COLUMN plan_theme text CHECK (plan_theme ~ '^[a-z][a-z0-9_]{0,39}$');
