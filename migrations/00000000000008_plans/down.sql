ALTER TABLE awards DROP COLUMN plan_theme;
ALTER TABLE awards DROP COLUMN plan_id;
ALTER TABLE programmes DROP COLUMN plan_id;
ALTER TABLE programmes DROP CONSTRAINT programmes_plan_theme_code_check;
ALTER TABLE programmes ADD CONSTRAINT programmes_plan_theme_check
    CHECK (plan_theme IN ('victims', 'offenders', 'communities', 'transformation'));
DROP TRIGGER plans_no_delete ON plans;
DROP TABLE plans;
