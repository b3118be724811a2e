CREATE OR REPLACE FUNCTION funds_money_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT id FROM changed LOOP
        PERFORM fund_budget_holds(r.id);
    END LOOP;
    RETURN NULL;
END;
$$;

DROP TRIGGER funds_money_rules_update ON funds;
CREATE TRIGGER funds_money_rules_update AFTER UPDATE ON funds
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION funds_money_rules();
