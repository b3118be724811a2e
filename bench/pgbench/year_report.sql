-- GET /api/v1/reports/years/2020-21
-- The statements the service sends for this request (captured with log_statement = all).
-- r2d2's connection check (SELECT 1) is the service's own overhead and is not repeated here.
SELECT coalesce(sum(budget), 0) AS budget FROM funds WHERE financial_year = '2020-21';
SELECT a.category, p.plan_theme, a.status, count(*) AS awards, sum(a.amount) AS amount
  FROM awards a JOIN programmes p ON p.id = a.programme_id
  WHERE a.financial_year = '2020-21'
  GROUP BY a.category, p.plan_theme, a.status;
SELECT a.category, p.plan_theme, sum(pay.amount) AS paid
  FROM payments pay JOIN awards a ON a.id = pay.award_id JOIN programmes p ON p.id = a.programme_id
  WHERE a.financial_year = '2020-21' AND pay.status = 'paid'
  GROUP BY a.category, p.plan_theme;
