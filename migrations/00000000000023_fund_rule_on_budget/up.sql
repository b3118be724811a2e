-- The funds' money rule (migration 21) checked every fund an UPDATE touched, and every award
-- numbered takes its number from its fund with an UPDATE: a 20,000-row import summed the fund's
-- awards 20,000 times (26 s of its confirmation). Only a lower budget can break the rule, so the
-- rule now checks the funds whose budget went down; awards, payments and carry-forwards keep
-- checking their funds whatever they change.

CREATE OR REPLACE FUNCTION funds_money_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT n.id FROM changed n JOIN previous o ON o.id = n.id WHERE n.budget < o.budget LOOP
        PERFORM fund_budget_holds(r.id);
    END LOOP;
    RETURN NULL;
END;
$$;

DROP TRIGGER funds_money_rules_update ON funds;
CREATE TRIGGER funds_money_rules_update AFTER UPDATE ON funds
    REFERENCING OLD TABLE AS previous NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION funds_money_rules();
