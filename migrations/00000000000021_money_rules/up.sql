-- The ledger's money rules, held by the database as well as by the service, so that whoever
-- writes with the serving role's credentials cannot break them: the triggers belong to the
-- tables' owner, and the serving role can neither drop nor disable them. At the end of every
-- statement that writes awards, payments, funds or carry-forwards, for each award and fund it
-- touched:
--   * a scheduled or paid payment belongs to an approved or closed award;
--   * an award's paid and scheduled money, net of repayments, never exceeds its amount;
--   * what a fund has committed (approved amounts, what closed awards paid), plus what it
--     carried out, less what it carried in, never exceeds its budget.
-- The service checks each rule first and answers with its own problem; these only ever fire
-- when it was bypassed.

CREATE FUNCTION award_money_holds(award uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    a record;
    used numeric;
BEGIN
    SELECT status, amount, reference INTO a FROM awards WHERE id = award;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT coalesce(sum(amount), 0) INTO used FROM payments WHERE award_id = award AND status IN ('scheduled', 'paid');
    IF used > 0 AND a.status NOT IN ('approved', 'closed') THEN
        RAISE EXCEPTION 'award %: money is paid or scheduled on an award that is %', a.reference, a.status
            USING ERRCODE = 'check_violation';
    END IF;
    used := used - coalesce((SELECT sum(amount) FROM repayments WHERE award_id = award), 0);
    IF used > a.amount THEN
        RAISE EXCEPTION 'award %: paid and scheduled (%) exceed its amount (%)', a.reference, used, a.amount
            USING ERRCODE = 'check_violation';
    END IF;
END;
$$;

CREATE FUNCTION fund_budget_holds(fund uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    f record;
    used numeric;
BEGIN
    SELECT budget, code, financial_year INTO f FROM funds WHERE id = fund;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    used := coalesce((SELECT sum(award_committed(id, status, amount)) FROM awards
                      WHERE fund_id = fund AND status IN ('approved', 'closed')), 0)
          + coalesce((SELECT sum(amount) FROM carry_forwards WHERE from_fund_id = fund), 0)
          - coalesce((SELECT sum(amount) FROM carry_forwards WHERE to_fund_id = fund), 0);
    IF used > f.budget THEN
        RAISE EXCEPTION 'fund % %: committed and carried out (%) exceed its budget available (%)',
            f.code, f.financial_year, used, f.budget
            USING ERRCODE = 'check_violation';
    END IF;
END;
$$;

CREATE FUNCTION awards_money_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT id, fund_id FROM changed LOOP
        PERFORM award_money_holds(r.id);
    END LOOP;
    FOR r IN SELECT DISTINCT fund_id FROM changed LOOP
        PERFORM fund_budget_holds(r.fund_id);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE FUNCTION payments_money_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT award_id FROM changed LOOP
        PERFORM award_money_holds(r.award_id);
    END LOOP;
    FOR r IN SELECT DISTINCT a.fund_id FROM changed c JOIN awards a ON a.id = c.award_id LOOP
        PERFORM fund_budget_holds(r.fund_id);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE FUNCTION funds_money_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT id FROM changed LOOP
        PERFORM fund_budget_holds(r.id);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE FUNCTION carry_forwards_money_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT from_fund_id FROM changed LOOP
        PERFORM fund_budget_holds(r.from_fund_id);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE TRIGGER awards_money_rules_insert AFTER INSERT ON awards
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION awards_money_rules();
CREATE TRIGGER awards_money_rules_update AFTER UPDATE ON awards
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION awards_money_rules();
CREATE TRIGGER payments_money_rules_insert AFTER INSERT ON payments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION payments_money_rules();
CREATE TRIGGER payments_money_rules_update AFTER UPDATE ON payments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION payments_money_rules();
CREATE TRIGGER funds_money_rules_update AFTER UPDATE ON funds
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION funds_money_rules();
CREATE TRIGGER carry_forwards_money_rules_insert AFTER INSERT ON carry_forwards
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION carry_forwards_money_rules();
