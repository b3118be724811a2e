-- GET /api/v1/reports/years/2020-21
-- The statements the service sends for this request (captured with log_statement = all): a long
-- read runs in one read-only repeatable-read transaction on the pool of long reads.
-- r2d2's connection check (SELECT 1) is the service's own overhead and is not repeated here.
BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT coalesce(sum(budget), 0) AS budget FROM funds WHERE financial_year = '2020-21';
SELECT t.theme->>'code' AS code
  FROM plans p CROSS JOIN LATERAL jsonb_array_elements(p.themes) WITH ORDINALITY AS t(theme, n)
  WHERE p.starts_on <= '2021-03-31' AND p.ends_on >= '2020-04-01'
  ORDER BY p.starts_on, t.n;
SELECT a.category, coalesce(a.plan_theme, p.plan_theme) AS plan_theme, a.status, count(*) AS awards,
       sum(a.amount) AS amount, sum(award_committed(a.id, a.status, a.amount)) AS committed
  FROM awards a JOIN programmes p ON p.id = a.programme_id
  WHERE a.financial_year = '2020-21'
  GROUP BY 1, 2, 3;
SELECT a.category, coalesce(a.plan_theme, p.plan_theme) AS plan_theme, sum(m.amount) AS paid
  FROM (SELECT award_id, amount FROM payments WHERE status = 'paid'
        UNION ALL SELECT award_id, -amount FROM repayments) m
  JOIN awards a ON a.id = m.award_id JOIN programmes p ON p.id = a.programme_id
  WHERE a.financial_year = '2020-21'
  GROUP BY 1, 2;
SELECT coalesce(sum(c.amount) FILTER (WHERE t.financial_year = '2020-21'), 0) AS carried_in,
       coalesce(sum(c.amount) FILTER (WHERE f.financial_year = '2020-21'), 0) AS carried_out
  FROM carry_forwards c JOIN funds f ON f.id = c.from_fund_id JOIN funds t ON t.id = c.to_fund_id
  WHERE '2020-21' IN (f.financial_year, t.financial_year);
COMMIT;
